"""Read models of the exchange's directory (also the API's response bodies)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from joinedup.consent import LawfulBasis
from joinedup.core.errors import ValidationFailed


class MemberClass(StrEnum):
    """X-Road member classes: government, commercial, non-governmental."""

    GOV = "GOV"
    COM = "COM"
    NGO = "NGO"


class MemberLevel(StrEnum):
    NATIONAL = "national"
    REGIONAL = "regional"
    LOCAL = "local"


class MemberRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    member_class: MemberClass
    member_code: str
    name: str
    level: MemberLevel
    parent_member_class: MemberClass | None
    parent_member_code: str | None
    region_code: str | None
    municipality_code: str | None
    registered_at: datetime

    def identifier(self, instance: str) -> str:
        """The X-Road member identifier ``INSTANCE/CLASS/CODE``."""
        return f"{instance}/{self.member_class}/{self.member_code}"


class SubsystemRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    member_class: MemberClass
    member_code: str
    code: str
    name: str
    registered_at: datetime

    def identifier(self, instance: str) -> str:
        """The X-Road subsystem identifier ``INSTANCE/CLASS/MEMBER/SUBSYSTEM``."""
        return f"{instance}/{self.member_class}/{self.member_code}/{self.code}"


# --- services, rights, clients ---------------------------------------------------------------


class ServiceKind(StrEnum):
    """``registry``: a base registry's query run in-process; ``rest``: a member's HTTP API."""

    REGISTRY = "registry"
    REST = "rest"


@dataclass(frozen=True)
class SubsystemRef:
    """A subsystem named by its member's class and code and its own code."""

    member_class: str
    member_code: str
    subsystem_code: str

    @classmethod
    def parse(cls, text: str, *, instance: str) -> SubsystemRef:
        """``CLASS/MEMBER/SUBSYSTEM``, or with the instance in front (which must be ours)."""
        return cls(*_split(text, 3, instance, "CLASS/MEMBER/SUBSYSTEM"))

    def __str__(self) -> str:
        return f"{self.member_class}/{self.member_code}/{self.subsystem_code}"


@dataclass(frozen=True)
class ServiceRef:
    """A service named by its provider subsystem and its code."""

    member_class: str
    member_code: str
    subsystem_code: str
    service_code: str

    @classmethod
    def parse(cls, text: str, *, instance: str) -> ServiceRef:
        """``CLASS/MEMBER/SUBSYSTEM/SERVICE``, or with the instance in front (ours)."""
        return cls(*_split(text, 4, instance, "CLASS/MEMBER/SUBSYSTEM/SERVICE"))

    @property
    def subsystem(self) -> SubsystemRef:
        return SubsystemRef(self.member_class, self.member_code, self.subsystem_code)

    def __str__(self) -> str:
        return f"{self.subsystem}/{self.service_code}"


def _split(text: str, parts: int, instance: str, shape: str) -> list[str]:
    pieces = text.strip().split("/")
    if len(pieces) == parts + 1:
        if pieces[0] != instance:
            raise ValidationFailed(
                f"{text!r} names the instance {pieces[0]!r}; this federation is {instance!r}",
                errors=[{"field": "identifier", "message": "another instance"}],
            )
        pieces = pieces[1:]
    if len(pieces) != parts or not all(pieces):
        raise ValidationFailed(
            f"{text!r} is not an identifier of the form [INSTANCE/]{shape}",
            errors=[{"field": "identifier", "message": f"expected [INSTANCE/]{shape}"}],
        )
    return pieces


class ServiceRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    xroad_id: str = Field(description="INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE")
    member_class: MemberClass
    member_code: str
    subsystem_code: str
    code: str
    title: str
    kind: ServiceKind
    registry_code: str | None
    fields: list[str] = Field(description="Every field the service can return.")
    log_bodies: bool
    base_url: str | None
    version: str
    published_at: datetime


class PurposeGrant(BaseModel):
    """A purpose an access right is granted for, and the law that allows it.

    Where the lawful basis is the data subject's **consent**, the purpose names the data
    agreement (of the consent register) the person consents to: the exchange then answers
    only about a person whose consent to it is in force that day."""

    model_config = ConfigDict(frozen=True)

    purpose: str = Field(description="A short code, e.g. `child-benefit`.")
    legal_basis: str = Field(description="The legal reference, e.g. `Family Benefits Act § 23`.")
    legal_basis_url: str | None = Field(None, description="Where the law can be read (https).")
    lawful_basis: LawfulBasis = Field(
        LawfulBasis.PUBLIC_TASK,
        description="GDPR Art. 6 (1) basis: `public_task` (default), `legal_obligation`, "
        "`consent` (then name the `data_agreement_id`), …",
    )
    data_agreement_id: uuid.UUID | None = Field(
        None, description="With lawful basis `consent`: the data agreement consented to."
    )


class PurposeRecord(BaseModel):
    """A purpose of the access rights, and what it means in each language."""

    model_config = ConfigDict(frozen=True)

    code: str = Field(description="The code the access rights and the records name.")
    names: dict[str, str] = Field(
        description="What it means, per language: `en` always, e.g. "
        '`{"en": "Checking whether you are entitled to a benefit", "et": "…"}`.'
    )
    described_at: datetime
    described_by: str


class AccessRightRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    client: str = Field(description="The client subsystem, INSTANCE/CLASS/MEMBER/SUBSYSTEM.")
    service: str = Field(description="The service, INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE.")
    fields: list[str]
    purposes: list[PurposeGrant]
    valid_from: date
    valid_to: date | None = Field(description="Exclusive; null: until revoked.")
    law_enforcement: bool
    disclosure_delay_days: int | None
    own_residents_only: bool
    granted_at: datetime
    granted_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    revocation_reason: str | None


class ApiClientRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    client_id: str
    name: str
    subsystem: str = Field(description="INSTANCE/CLASS/MEMBER/SUBSYSTEM it authenticates as.")
    created_at: datetime
    revoked_at: datetime | None


class NewApiClient(BaseModel):
    """A client just created: the only time its secret is ever shown."""

    model_config = ConfigDict(frozen=True)

    client: ApiClientRecord
    client_secret: str = Field(description="Shown once; only a scrypt hash of it is kept.")
