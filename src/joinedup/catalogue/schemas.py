"""What the service catalogue answers: its vocabulary and read models."""

from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from joinedup.core import i18n
from joinedup.core.i18n import gettext as _


class LifeEvent(StrEnum):
    """The moments in a life the registries record and services react to."""

    BIRTH = "birth"
    DEATH = "death"
    MARRIAGE = "marriage"
    ADDRESS_CHANGE = "address_change"
    EMPLOYMENT_ENDED = "employment_ended"
    AGE_6 = "age_6"
    AGE_18 = "age_18"
    PENSION_AGE = "pension_age"

    @property
    def label(self) -> str:
        """The life event's name in the current language (as the portal shows it)."""
        return {
            LifeEvent.BIRTH: _("Having a baby"),
            LifeEvent.DEATH: _("When someone dies"),
            LifeEvent.MARRIAGE: _("Getting married"),
            LifeEvent.ADDRESS_CHANGE: _("Moving home"),
            LifeEvent.EMPLOYMENT_ENDED: _("Losing or leaving a job"),
            LifeEvent.AGE_6: _("Starting school"),
            LifeEvent.AGE_18: _("Coming of age"),
            LifeEvent.PENSION_AGE: _("Reaching pension age"),
        }[self]


class Concerns(StrEnum):
    """Whom a life event concerns for a service."""

    PERSON = "person"  # the person the event happened to (who turned 18, who moved)
    PARENTS = "parents"  # the newborn's parents
    CHILD = "child"  # the newborn
    SPOUSE = "spouse"  # the deceased's spouse or partner; the other spouse at a marriage
    ESTATE = "estate"  # the deceased's estate (the deceased's own entitlements)


#: Whom each life event can concern.
CONCERNED_BY: dict[LifeEvent, frozenset[Concerns]] = {
    LifeEvent.BIRTH: frozenset({Concerns.PARENTS, Concerns.CHILD}),
    LifeEvent.DEATH: frozenset({Concerns.SPOUSE, Concerns.ESTATE}),
    LifeEvent.MARRIAGE: frozenset({Concerns.PERSON, Concerns.SPOUSE}),
    LifeEvent.ADDRESS_CHANGE: frozenset({Concerns.PERSON, Concerns.PARENTS}),
    LifeEvent.EMPLOYMENT_ENDED: frozenset({Concerns.PERSON}),
    LifeEvent.AGE_6: frozenset({Concerns.PERSON, Concerns.PARENTS}),
    LifeEvent.AGE_18: frozenset({Concerns.PERSON, Concerns.PARENTS}),
    LifeEvent.PENSION_AGE: frozenset({Concerns.PERSON}),
}


class DeliveryMode(StrEnum):
    AUTOMATIC = "automatic"  # granted without an application; the person may opt out
    PROACTIVE_OFFER = "proactive_offer"  # offered; one step to confirm
    INFORM = "inform"  # told they may be entitled, with a link to apply
    APPLICATION = "application"  # only on application

    @property
    def label(self) -> str:
        return {
            DeliveryMode.AUTOMATIC: _("Given automatically"),
            DeliveryMode.PROACTIVE_OFFER: _("Offered to you"),
            DeliveryMode.INFORM: _("We tell you when you may be entitled"),
            DeliveryMode.APPLICATION: _("Apply for it"),
        }[self]


class Level(StrEnum):
    NATIONAL = "national"
    REGIONAL = "regional"
    LOCAL = "local"


class LawfulBasis(StrEnum):
    """Whether the service reads a person's data under a law or with their consent."""

    LAW = "law"
    CONSENT = "consent"


class LifeEventRule(BaseModel):
    """One life event that concerns a service, and whom it concerns."""

    model_config = ConfigDict(frozen=True)

    life_event: LifeEvent
    concerns: Concerns


class Owner(BaseModel):
    """The agency that owns a service (an exchange member) and its deciding subsystem."""

    model_config = ConfigDict(frozen=True)

    member_class: str
    member_code: str
    subsystem: str
    name: str
    #: The municipality of a local government owner (its services are its residents').
    municipality_code: str | None = None

    @property
    def client(self) -> str:
        """``CLASS/MEMBER/SUBSYSTEM``: the exchange client the service reads as."""
        return f"{self.member_class}/{self.member_code}/{self.subsystem}"

    @property
    def member(self) -> str:
        return f"{self.member_class}/{self.member_code}"


class CatalogueService(BaseModel):
    """A service of the catalogue (the read model other contexts and the portal use)."""

    model_config = ConfigDict(frozen=True)

    code: str
    names: dict[str, str]
    descriptions: dict[str, str]
    owner: Owner
    level: Level
    delivery_mode: DeliveryMode
    life_events: list[LifeEventRule]
    ruleset: str
    variable: str
    per_occasion: bool
    purpose: str
    legal_basis: str
    legal_basis_url: str | None
    lawful_basis: LawfulBasis
    data_agreement_id: uuid.UUID | None
    apply_url: str | None
    #: The ruleset's input variables an applicant declares (what no register holds).
    applicant_inputs: list[str] = []
    #: An offer lapses when not accepted within this many days of its last decision (None:
    #: it stands until the person decides).
    respond_within_days: int | None = None
    active: bool

    @property
    def takes_applications(self) -> bool:
        """Whether the person applies for it (online, in the portal): on application, or
        told they may be entitled and then apply."""
        return self.delivery_mode in (DeliveryMode.APPLICATION, DeliveryMode.INFORM)

    def name(self, locale: str | None = None) -> str:
        """The name in ``locale`` (default: the current language), else in English."""
        return i18n.in_language(self.names, locale) or self.code

    def description(self, locale: str | None = None) -> str:
        return i18n.in_language(self.descriptions, locale) or ""

    def concerned(self, life_event: LifeEvent) -> list[Concerns]:
        """Whom ``life_event`` concerns for this service (empty: it does not react to it)."""
        return [rule.concerns for rule in self.life_events if rule.life_event is life_event]
