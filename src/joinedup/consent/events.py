"""Events of the consent register.

Payloads carry the consent record's and the agreement's ids, never the data subject's personal
code: a consumer that needs the person asks the consent register (its public use cases).
"""

from __future__ import annotations

import dataclasses
import uuid

from joinedup.core.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataAgreementPublished(Event):
    """A data agreement was published, or a new version of it (``version`` > 1)."""

    name = "consent.agreement_published.v1"

    agreement_id: uuid.UUID
    version: int
    controller: str  # CLASS/CODE
    lawful_basis: str
    consents_kept: bool  # earlier versions' consents still hold


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataAgreementRetired(Event):
    name = "consent.agreement_retired.v1"

    agreement_id: uuid.UUID
    version: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsentGiven(Event):
    name = "consent.given.v1"

    consent_record_id: uuid.UUID
    agreement_id: uuid.UUID
    agreement_version: int
    revision_id: uuid.UUID
    seq: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConsentWithdrawn(Event):
    name = "consent.withdrawn.v1"

    consent_record_id: uuid.UUID
    agreement_id: uuid.UUID
    agreement_version: int
    revision_id: uuid.UUID
    seq: int
