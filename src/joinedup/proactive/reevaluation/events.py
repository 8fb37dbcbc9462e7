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
class EntitlementRevised(Event):
    """An entitlement changed because the law changed (amount, or ended, or new)."""

    name = "entitlement.revised.v1"

    entitlement: str  # the entitlement's uid
    service_code: str
    status: str
    amount: int | None  # cents
    previous_status: str | None
    previous_amount: int | None
    effective_from: date
    reevaluation: str
    ruleset_version: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReevaluationCompleted(Event):
    name = "proactive.reevaluation_completed.v1"

    reevaluation: str
    law_version: str
    persons: int
    changes: int
    letters: int
