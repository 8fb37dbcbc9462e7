"""Helpers shared by the registries tests: a small country to register people in, and ways
to look at what a use case wrote."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.core.db import Base
from joinedup.core.errors import ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.registries import (
    PersonRecord,
    register_address,
    register_municipality,
    register_person,
    register_region,
)

ACTOR = "registrar@test"

REGISTRY_TABLES = (
    "region",
    "municipality",
    "address",
    "person",
    "person_name",
    "residence",
    "relation",
    "business",
    "business_representative",
    "employment",
    "monthly_income",
    "payment_account",
    "outbox_event",
)


@dataclass(frozen=True)
class Country:
    home: int  # address ids
    flat: int
    farm: int  # in another municipality


def make_country(session: Session) -> Country:
    register_region(session, code="01", name="Capital Region", actor=ACTOR)
    register_municipality(session, code="0101", name="Port Aldren", region_code="01", actor=ACTOR)
    register_municipality(session, code="0102", name="Sandby", region_code="01", actor=ACTOR)
    home = register_address(
        session,
        municipality_code="0101",
        street="Main Street",
        house_number="1",
        postcode="10101",
        actor=ACTOR,
    )
    flat = register_address(
        session,
        municipality_code="0101",
        street="Harbour Road",
        house_number="12",
        apartment="4",
        postcode="10102",
        actor=ACTOR,
    )
    farm = register_address(
        session,
        municipality_code="0102",
        street="Mill Lane",
        house_number="3",
        postcode="10201",
        actor=ACTOR,
    )
    return Country(home=home.id, flat=flat.id, farm=farm.id)


def adult(
    session: Session,
    country: Country,
    *,
    birth_date: date = date(1985, 3, 17),
    sex: str = "F",
    given_names: str = "Anna",
    family_name: str = "Tamm",
    address_id: int | None = None,
    resident_since: date | None = None,
) -> PersonRecord:
    return register_person(
        session,
        given_names=given_names,
        family_name=family_name,
        birth_date=birth_date,
        sex=sex,
        birth_place="Port Aldren",
        citizenship="XJ",
        address_id=address_id or country.home,
        resident_since=resident_since or max(date(2010, 1, 1), birth_date),
        actor=ACTOR,
    )


def counts(session: Session) -> dict[str, int]:
    """Rows per registry table (and in the outbox), as this session sees them."""
    session.flush()
    tables = Base.metadata.tables
    return {
        name: int(session.scalar(select(func.count()).select_from(tables[name])) or 0)
        for name in REGISTRY_TABLES
    }


def event_names(session: Session) -> list[str]:
    session.flush()
    return list(session.scalars(select(OutboxEvent.name).order_by(OutboxEvent.id)))


def last_event(session: Session, name: str) -> dict[str, object]:
    session.flush()
    payload = session.scalar(
        select(OutboxEvent.payload).where(OutboxEvent.name == name).order_by(OutboxEvent.id.desc())
    )
    assert payload is not None, f"no {name} event"
    return dict(payload)


def assert_refused(
    session: Session, call: Callable[[], object], *fragments: str
) -> ValidationFailed:
    """``call`` raises ValidationFailed naming ``fragments`` and writes nothing, not even an
    event (checked inside the still-open transaction, before any rollback)."""
    before = counts(session)
    with pytest.raises(ValidationFailed) as info:
        call()
    assert counts(session) == before
    for fragment in fragments:
        assert fragment in info.value.detail, info.value.detail
    return info.value
