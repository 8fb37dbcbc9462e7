"""Read models of the consent register (also the API's bodies, in GovStack's camelCase)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class LawfulBasis(StrEnum):
    """The lawful bases of processing (GDPR Art. 6 (1)), spelled as GovStack's Consent API."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTEREST = "vital_interest"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTEREST = "legitimate_interest"


class ConsentAction(StrEnum):
    GIVEN = "given"
    WITHDRAWN = "withdrawn"


class SignedAs(StrEnum):
    """Who expressed the will a revision records (GovStack's ``verificationSignedAs``)."""

    INDIVIDUAL = "individual"  # the data subject
    DELEGATE = "delegate"  # a person acting for them (a parent, a guardian, an attorney)
    AGENCY = "agency"  # an agency's system recorded the person's decision (e.g. a paper form)


class _Camel(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class DataItem(_Camel):
    """One data item an agreement covers: a field of an exchange service."""

    service: str = Field(description="The exchange service, CLASS/MEMBER/SUBSYSTEM/SERVICE.")
    field: str = Field(description="A field of that service.")


class DataAgreementRecord(_Camel):
    """One version of a data agreement (GovStack's ``DataAgreement`` with its revision)."""

    id: uuid.UUID = Field(description="The agreement's id (the same for every version).")
    controller: str = Field(description="The controller, an exchange member: CLASS/CODE.")
    code: str
    version: int
    title: str
    purpose: str
    lawful_basis: LawfulBasis
    data_items: list[DataItem]
    retention_days: int = Field(description="How long the controller keeps the data.")
    policy_url: str | None
    active: bool = Field(description="Published and not retired: consent can be given to it.")
    current: bool = Field(description="This is the agreement's current version.")
    consents_from_version: int = Field(
        description="Consents given for this version or any later one (up to this one) hold."
    )
    revision_hash: str = Field(description="SHA-256 (hex) of the version's canonical bytes.")
    published_at: datetime
    retired_at: datetime | None


class ConsentRecordView(_Camel):
    """A data subject's consent to one agreement (GovStack's ``ConsentRecord``)."""

    id: uuid.UUID
    data_agreement_id: uuid.UUID
    data_agreement_version: int
    data_agreement_revision_hash: str
    individual_id: str = Field(description="The data subject's personal code.")
    opt_in: bool = Field(description="True: consent given; false: withdrawn.")
    state: ConsentAction
    in_force: bool = Field(
        description="Given, for a version whose consents still hold, to an agreement in force."
    )
    revisions: int
    created_at: datetime
    updated_at: datetime


class RevisionRecord(_Camel):
    """One revision of a consent record (GovStack's ``Revision``), with its place in the chain."""

    id: uuid.UUID
    seq: int
    action: ConsentAction
    data_agreement_version: int
    data_agreement_revision_hash: str
    timestamp: datetime
    authorized_by: str = Field(description="The actor who recorded it.")
    acting_for: str | None
    signed_as: SignedAs
    predecessor_hash: str | None = Field(description="serializedHash of the previous revision.")
    serialized_hash: str = Field(description="SHA-256 (hex) of this revision's canonical bytes.")
    log_index: int = Field(description="Its entry in the transparency log.")


class ConsentChange(_Camel):
    """What giving or withdrawing did: the record, its latest revision, and whether it changed."""

    consent_record: ConsentRecordView
    revision: RevisionRecord
    changed: bool = Field(description="False when the consent already was in that state.")


class BrokenRevision(_Camel):
    revision_id: uuid.UUID | None
    seq: int | None
    reason: str


class ChainVerification(_Camel):
    """The result of recomputing a consent record's hash chain against the transparency log."""

    intact: bool
    revisions: int
    broken: list[BrokenRevision]


class ConsentHistory(_Camel):
    consent_record: ConsentRecordView
    revisions: list[RevisionRecord]
    verification: ChainVerification


class ConsentInForce(_Camel):
    """A consent in force, as the exchange names it in the legal basis of a data usage."""

    consent_record_id: uuid.UUID
    data_agreement_id: uuid.UUID
    data_agreement_code: str
    data_agreement_version: int
    given_at: datetime

    def legal_basis(self) -> str:
        """How a data-usage record names this consent (fits the 300-character column)."""
        return (
            f"consent of the data subject (data agreement {self.data_agreement_code} "
            f"v{self.data_agreement_version}, consent record {self.consent_record_id})"
        )


@dataclass(frozen=True, slots=True)
class ConsentStanding:
    """Where a person's consent to one agreement asking for it stands (the portal's list): the
    agreement's current version, and the person's consent record, if they ever had one."""

    agreement_id: uuid.UUID
    controller: str  # CLASS/CODE
    title: str
    purpose: str
    retention_days: int
    active: bool  # consent can be given to it
    state: ConsentAction | None  # None: never given
    in_force: bool
    changed_at: datetime | None  # when the consent was last given or withdrawn
