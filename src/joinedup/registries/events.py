"""Events of the base registries.

Payloads carry identifiers and dates, not names or personal codes: a consumer that needs a
person's data asks the registry for it (through the exchange, so the read is recorded).

Batch imports (the synthetic country, a migration from a legacy register) emit one
``*.imported.v1`` event per batch with counts, not one life event per person: those people
were born, married and moved before the platform existed, and replaying a million births
would wrongly trigger a million proactive services.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from joinedup.core.events import Event

#: The payload keys by which the base registers' events name the persons they change (their
#: register references).
PERSON_KEYS = ("person_id", "person_ids", "parent_ids")


def persons_named(payload: dict[str, Any]) -> set[int]:
    """The register references of the persons a base register's event names (none: it names
    nobody, such as a bulk import's, which may have changed anyone)."""
    found: set[int] = set()
    try:
        for key in PERSON_KEYS:
            value = payload.get(key)
            if isinstance(value, list | tuple):
                found.update(int(ref) for ref in value if ref is not None)
            elif value is not None:
                found.add(int(value))
    except (TypeError, ValueError):  # not references: as if it named nobody (it may be anyone)
        return set()
    return found


def may_concern(payload: dict[str, Any], refs: frozenset[int], *, unmapped: bool) -> bool:
    """Whether a base register's event may have changed what was read about the persons
    ``refs`` (register references; ``unmapped``: someone else was read whose reference is
    not known): it names one of them, or names nobody (an import: it may be anyone), or
    some person read is not known by reference."""
    named = persons_named(payload)
    return unmapped or not named or bool(named & refs)


# --- population ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class PersonRegistered(Event):
    """A person entered the population register other than by birth (immigration, first load)."""

    name = "population.person_registered.v1"

    person_id: int
    resident_since: date | None
    municipality_code: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class BirthRegistered(Event):
    name = "population.birth_registered.v1"

    person_id: int
    birth_date: date
    parent_ids: tuple[int, ...]
    municipality_code: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeathRegistered(Event):
    name = "population.death_registered.v1"

    person_id: int
    date_of_death: date
    ended_relation_ids: tuple[int, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class MarriageRegistered(Event):
    """A marriage (``kind`` spouse) or a registered partnership (``kind`` partner)."""

    name = "population.marriage_registered.v1"

    relation_id: int
    kind: str
    person_ids: tuple[int, int]
    married_on: date


@dataclasses.dataclass(frozen=True, kw_only=True)
class MarriageDissolved(Event):
    name = "population.marriage_dissolved.v1"

    relation_id: int
    kind: str
    person_ids: tuple[int, int]
    dissolved_on: date
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AddressChanged(Event):
    name = "population.address_changed.v1"

    person_id: int
    address_id: int
    moved_on: date
    municipality_code: str
    previous_address_id: int | None
    previous_municipality_code: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResidenceCorrected(Event):
    """A past residence period was corrected (the register had it wrong)."""

    name = "population.residence_corrected.v1"

    person_id: int
    valid_from: date
    valid_to: date | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class NameChanged(Event):
    name = "population.name_changed.v1"

    person_id: int
    valid_from: date


@dataclasses.dataclass(frozen=True, kw_only=True)
class PopulationImported(Event):
    name = "population.imported.v1"

    persons: int
    deceased: int
    relations: int
    residences: int
    first_person_id: int | None
    last_person_id: int | None


# --- addresses -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class RegionRegistered(Event):
    name = "addresses.region_registered.v1"

    region_id: int
    code: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class MunicipalityRegistered(Event):
    name = "addresses.municipality_registered.v1"

    municipality_id: int
    code: str
    region_code: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AddressRegistered(Event):
    name = "addresses.address_registered.v1"

    address_id: int
    municipality_code: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AddressesImported(Event):
    name = "addresses.imported.v1"

    addresses: int
    first_address_id: int | None
    last_address_id: int | None


# --- businesses ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class BusinessRegistered(Event):
    name = "business.registered.v1"

    business_id: int
    registration_code: str
    legal_form: str
    registered_on: date


@dataclasses.dataclass(frozen=True, kw_only=True)
class RepresentativeAdded(Event):
    name = "business.representative_added.v1"

    representative_id: int
    business_id: int
    person_id: int
    role: str
    valid_from: date


@dataclasses.dataclass(frozen=True, kw_only=True)
class RepresentativeEnded(Event):
    name = "business.representative_ended.v1"

    representative_id: int
    business_id: int
    person_id: int
    valid_to: date


@dataclasses.dataclass(frozen=True, kw_only=True)
class BusinessesImported(Event):
    name = "business.imported.v1"

    businesses: int
    representatives: int


# --- employment, income, payment accounts ----------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmploymentStarted(Event):
    name = "employment.started.v1"

    employment_id: int
    person_id: int
    business_id: int
    started_on: date


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmploymentEnded(Event):
    name = "employment.ended.v1"

    employment_id: int
    person_id: int
    business_id: int
    ended_on: date


@dataclasses.dataclass(frozen=True, kw_only=True)
class IncomeRecorded(Event):
    """An employer declared a month's income (``correction``: it replaces an earlier one)."""

    name = "income.recorded.v1"

    income_id: int
    person_id: int
    business_id: int
    period: str
    correction: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmploymentImported(Event):
    name = "employment.imported.v1"

    employments: int
    ended: int
    incomes: int
    first_period: str | None
    last_period: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaymentAccountRegistered(Event):
    name = "payment_account.registered.v1"

    account_id: int
    person_id: int
    valid_from: date


@dataclasses.dataclass(frozen=True, kw_only=True)
class PaymentAccountsImported(Event):
    name = "payment_account.imported.v1"

    accounts: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class RegistryOwnerAssigned(Event):
    name = "registry.owner_assigned.v1"

    registry_code: str
    owner_member_class: str
    owner_member_code: str
    owner_subsystem_code: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgeReached(Event):
    """A living person reached an age that matters (6, 18, pension age) on ``reached_on``.

    Announced by the population register's daily job, not by a registration: the register
    knows every birth date, so it tells subscribers who came of an age today."""

    name = "population.age_reached.v1"

    person_id: int
    age: int
    reached_on: date
    municipality_code: str | None
