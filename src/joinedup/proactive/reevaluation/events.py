"""Events of re-evaluation when the law changes. Payloads carry identifiers and counts, never
personal codes."""

from __future__ import annotations

import dataclasses
from datetime import date

from joinedup.core.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class LawVersionPublished(Event):
    name = "proactive.law_version_published.v1"

    law_version: str
    ruleset: str
    version: str
    effective_from: date


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReevaluationCompleted(Event):
    name = "proactive.reevaluation_completed.v1"

    reevaluation: str
    law_version: str
    persons: int
    changes: int
    letters: int
