"""Regions, municipalities, addresses, and which agency keeps which registry."""

from __future__ import annotations

import pytest
from registries_support import ACTOR, Country, assert_refused, last_event
from sqlalchemy.orm import Session

from joinedup.exchange import MemberClass, MemberLevel, register_member, register_subsystem
from joinedup.registries import (
    get_address,
    get_registry,
    list_municipalities,
    list_regions,
    list_registries,
    register_address,
    register_municipality,
    register_region,
    register_registry,
)


def test_areas_and_addresses(session: Session, country: Country) -> None:
    assert [r.code for r in list_regions(session)] == ["01"]
    assert [(m.code, m.region_code) for m in list_municipalities(session)] == [
        ("0101", "01"),
        ("0102", "01"),
    ]
    flat = get_address(session, address_id=country.flat)
    assert flat.one_line() == "Harbour Road 12-4, 10102 Port Aldren"
    assert last_event(session, "addresses.address_registered.v1")["municipality_code"] == "0102"


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"municipality_code": "9999"}, "not a registered municipality"),
        ({"street": ""}, "street: must not be empty"),
        ({"postcode": "1234"}, "postcode: must be 5 digits"),
        ({"postcode": "1234a"}, "postcode: must be 5 digits"),
        ({"house_number": "x" * 21}, "house_number: is longer than 20"),
    ],
)
def test_bad_addresses(
    session: Session, country: Country, changes: dict[str, str], fragment: str
) -> None:
    values = {
        "municipality_code": "0101",
        "street": "Main Street",
        "house_number": "2",
        "postcode": "10101",
    }
    values.update(changes)
    assert_refused(session, lambda: register_address(session, **values, actor=ACTOR), fragment)


def test_bad_areas(session: Session, country: Country) -> None:
    assert_refused(
        session, lambda: register_region(session, code="01", name="Again", actor=ACTOR), "already"
    )
    assert_refused(
        session, lambda: register_region(session, code="0 1", name="Bad", actor=ACTOR), "code"
    )
    assert_refused(
        session,
        lambda: register_municipality(
            session, code="0301", name="Nowhere", region_code="03", actor=ACTOR
        ),
        "region_code: is not a registered region",
    )


def test_registry_owners_are_exchange_subsystems(session: Session) -> None:
    register_member(
        session,
        member_class=MemberClass.GOV,
        member_code="70000007",
        name="Population Register Office",
        level=MemberLevel.NATIONAL,
        actor=ACTOR,
    )
    register_subsystem(
        session,
        member_class="GOV",
        member_code="70000007",
        subsystem_code="population",
        name="Population register",
        actor=ACTOR,
    )
    record = register_registry(
        session,
        code="population",
        owner_member_class="GOV",
        owner_member_code="70000007",
        owner_subsystem_code="population",
        actor=ACTOR,
    )
    assert record.name == "Population register"
    assert get_registry(session, code="population").owner_member_code == "70000007"
    assert [r.code for r in list_registries(session)] == ["population"]
    assert_refused(
        session,
        lambda: register_registry(
            session,
            code="population",
            owner_member_class="GOV",
            owner_member_code="70000007",
            owner_subsystem_code="population",
            actor=ACTOR,
        ),
        "already has an owner",
    )
    assert_refused(
        session,
        lambda: register_registry(
            session,
            code="vehicles",
            owner_member_class="GOV",
            owner_member_code="70000007",
            owner_subsystem_code="cars",
            actor=ACTOR,
        ),
        "code: must be one of",
        "not a registered subsystem",
    )
