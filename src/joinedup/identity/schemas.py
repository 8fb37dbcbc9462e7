"""The identity context's read models: levels of assurance, who is signed in, mandates."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

EIDAS_LOA = "http://eidas.europa.eu/LoA/"


class LevelOfAssurance(StrEnum):
    """eIDAS levels of assurance, in increasing order of confidence."""

    LOW = "low"
    SUBSTANTIAL = "substantial"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @property
    def acr(self) -> str:
        """The ``acr`` claim value (``http://eidas.europa.eu/LoA/substantial``)."""
        return EIDAS_LOA + self.value

    @classmethod
    def from_acr(cls, acr: str | None) -> LevelOfAssurance | None:
        """The level an ``acr`` value names (the eIDAS URI or the bare word), else None."""
        if not acr:
            return None
        word = acr.removeprefix(EIDAS_LOA)
        try:
            return cls(word)
        except ValueError:
            return None

    def at_least(self, other: LevelOfAssurance) -> bool:
        return self.rank >= other.rank


_RANKS = {LevelOfAssurance.LOW: 1, LevelOfAssurance.SUBSTANTIAL: 2, LevelOfAssurance.HIGH: 3}


class StaffRoleName(StrEnum):
    """What a staff member may do in their organisation's back office."""

    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    ADMINISTRATOR = "administrator"
    ANALYST = "analyst"


class MandateKind(StrEnum):
    """What a person's right to act for a data subject rests on."""

    SELF = "self"
    PARENT = "parent"  # a parent for their minor child (population register)
    POWER_OF_ATTORNEY = "power_of_attorney"  # granted by the subject, stored here
    REPRESENTATIVE = "representative"  # a business's representative (business register)


#: The data categories a power of attorney can name (the portal's words for what it covers).
DATA_CATEGORIES: tuple[str, ...] = (
    "personal-details",
    "family",
    "residence",
    "income",
    "payment-account",
    "entitlements",
    "messages",
    "data-usage",
)
#: Every service and data category.
EVERYTHING = "*"


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the OpenID Connect provider says signed in, from a validated ID token."""

    personal_code: str
    given_names: str
    family_name: str
    level_of_assurance: LevelOfAssurance
    methods: tuple[str, ...]
    authenticated_at: datetime
    issuer: str
    id_token: str


@dataclass(frozen=True)
class StaffMembership:
    """A staff member's role in one organisation (an exchange member)."""

    member_class: str
    member_code: str
    role: StaffRoleName


@dataclass(frozen=True)
class Mandate:
    """The right of ``actor_code`` to act for ``subject_code``, and what it rests on.

    ``scope`` is :data:`EVERYTHING` or the services (``service:<code>``) and data categories
    (``data:<category>``) it covers; ``valid_to`` is the last day it holds (None: open).
    ``reference`` names the source: a power of attorney's reference, a business's
    registration code, or the child's personal code."""

    kind: MandateKind
    actor_code: str
    subject_code: str
    subject_name: str
    subject_is_business: bool
    scope: frozenset[str]
    valid_from: date | None
    valid_to: date | None
    reference: str | None = None
    role: str | None = None  # a representative's role in the business (board member, …)

    def covers(self, action: str) -> bool:
        """Whether the mandate covers ``action`` (``service:<code>`` or ``data:<category>``)."""
        return EVERYTHING in self.scope or action in self.scope

    @property
    def is_self(self) -> bool:
        return self.kind is MandateKind.SELF


@dataclass(frozen=True)
class ActingOption:
    """Someone the signed-in person may act for (the switcher's choices)."""

    mandate: Mandate
    current: bool = False


@dataclass(frozen=True)
class MandateOptions:
    """Everyone a person may act for today: themselves first, then by kind."""

    options: list[ActingOption] = field(default_factory=list)

    def find(self, code: str) -> Mandate | None:
        for option in self.options:
            if option.mandate.subject_code == code:
                return option.mandate
        return None


class PowerOfAttorneyRecord(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    reference: str
    grantor_code: str
    grantee_code: str
    grantor_name: str
    grantee_name: str
    everything: bool
    services: list[str]
    data_categories: list[str]
    valid_from: date
    valid_to: date | None
    granted_at: datetime
    granted_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    def status_on(self, day: date) -> str:
        """``revoked``, ``expired``, ``future`` or ``valid`` on ``day``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.valid_to is not None and day > self.valid_to:
            return "expired"
        if day < self.valid_from:
            return "future"
        return "valid"

    @property
    def scope(self) -> frozenset[str]:
        if self.everything:
            return frozenset({EVERYTHING})
        return frozenset(
            [f"service:{s}" for s in self.services] + [f"data:{c}" for c in self.data_categories]
        )


class StaffRoleRecord(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    personal_code: str
    member_class: str
    member_code: str
    role: StaffRoleName
    granted_at: datetime
    granted_by: str
    revoked_at: datetime | None


class ProviderAccountRecord(BaseModel):
    """A demo account of the embedded provider (no credentials)."""

    model_config = ConfigDict(frozen=True, from_attributes=True)

    id: int
    username: str
    personal_code: str
    given_names: str
    family_name: str
    description: str
    tags: list[str]
