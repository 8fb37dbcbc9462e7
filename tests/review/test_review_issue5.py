"""Adversarial review of issue 5 (life events, Tell Us Once, the catalogue, law changes): each
test is a defect found by sending the platform's APIs real requests, on the seeded country.

Every malformed input must be a 4xx problem document naming what to fix, with nothing written;
only the agency a ruleset serves may change its law."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.demo import organisation
from joinedup.demo.agencies import organisations
from joinedup.demo.exchange_setup import demo_client_credentials
from joinedup.exchange import issue_access_token
from joinedup.web import create_app
from staff_support import operator_session

PROBLEM = "application/problem+json"
POPULATION = organisation("population-register")
REGISTRAR = f"GOV/{POPULATION.member_code}/civil-registration"
#: Tables a registration may write: a refused one leaves every count unchanged.
WRITTEN = ("person", "person_name", "relation", "residence", "address", "outbox_event")
LAW = "/api/v1/proactive/law-versions"
_SIB = organisation("social-insurance")
SIB_MEMBER = f"{_SIB.member_class}/{_SIB.member_code}"


@pytest.fixture
def http(seeded: Database, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(environment="test", data_dir=tmp_path / "var", log_format="console")
    # a 500 is an answer to look at here, not an exception in the test
    with TestClient(create_app(settings, database=seeded), raise_server_exceptions=False) as client:
        yield client


def _token(database: Database, seed: int, key: str) -> str:
    client_id, secret = demo_client_credentials(seed, key)
    with database.unit_of_work() as session:
        return issue_access_token(session, client_id=client_id, client_secret=secret).access_token


def _registrar(database: Database, seed: int) -> dict[str, str]:
    token = _token(database, seed, "population-register/civil-registration")
    return {
        "Authorization": f"Bearer {token}",
        "X-Road-Client": f"JOINEDUP/{REGISTRAR}",
        "X-Road-Purpose": "civil-registration",
        "Content-Type": "application/json",
    }


def _write(http: TestClient, headers: dict[str, str], code: str, body: dict[str, Any]) -> Any:
    return http.post(
        f"/r1/JOINEDUP/GOV/{POPULATION.member_code}/population/{code}",
        content=json.dumps(body).encode(),
        headers=headers,
    )


def _counts(database: Database, tables: tuple[str, ...] = WRITTEN) -> dict[str, int]:
    with database.reading() as session:
        return {t: int(session.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in tables}


def _codes(database: Database, where: str, count: int = 1) -> list[str]:
    with database.reading() as session:
        found = list(
            session.scalars(
                text(f"SELECT personal_code FROM person WHERE {where} ORDER BY id LIMIT {count}")
            )
        )
    assert len(found) == count
    return found


_LIVING_WOMAN = (
    "sex = 'F' AND date_of_death IS NULL AND birth_date BETWEEN '1975-01-01' AND '1995-12-31'"
)


def _refused(answer: Any, status: int = 422) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM
    document: dict[str, Any] = answer.json()
    return document


# --- the civil-registration entry points -------------------------------------------------------


@pytest.mark.parametrize("address_id", [2**63, 2**70, True, "12", 12.0, 0])
def test_a_move_to_an_address_id_beyond_64_bits_is_refused_writing_nothing(
    http: TestClient, seeded: Database, seeded_seed: int, address_id: Any
) -> None:
    """Was a 500 (``Server.ServerProxy.ServiceFailed``): the id reached the database, which
    cannot bind it (SQLite: OverflowError; PostgreSQL: bigint out of range). And an id is a
    JSON integer: ``true`` was taken as the address 1, ``"12"`` and ``12.0`` as 12."""
    (person,) = _codes(seeded, _LIVING_WOMAN)
    before = _counts(seeded)
    body = {
        "reference": "REVIEW-MOVE-1",
        "personalCode": person,
        "movedOn": "2025-06-01",
        "addressId": address_id,
    }
    answer = _write(http, _registrar(seeded, seeded_seed), "record-move", body)
    problem = _refused(answer)
    assert {e["field"] for e in problem["errors"]} == {"addressId"}
    assert _counts(seeded) == before


@pytest.mark.parametrize(
    ("code", "change", "field"),
    [
        ("record-birth", {"givenNames": "Ma\x00ri"}, "givenNames"),
        ("record-birth", {"familyName": "Tamm\x00"}, "familyName"),
        ("record-birth", {"birthPlace": "Join\x1bville"}, "birthPlace"),
        ("record-move", {"street": "Main\x00Street"}, "address.street"),
    ],
)
def test_control_characters_in_a_registration_are_refused_writing_nothing(
    http: TestClient,
    seeded: Database,
    seeded_seed: int,
    code: str,
    change: dict[str, str],
    field: str,
) -> None:
    """Were registered (201) on SQLite, a NUL kept in the civil register's names, and a 500
    on PostgreSQL, whose text columns refuse NUL."""
    mother, mover = _codes(seeded, _LIVING_WOMAN, count=2)
    bodies: dict[str, dict[str, Any]] = {
        "record-birth": {
            "reference": "REVIEW-TEXT-1",
            "givenNames": "Mari",
            "familyName": "Tamm",
            "birthDate": "2025-05-20",
            "sex": "F",
            "birthPlace": "Joinville",
            "parents": [mother],
        },
        "record-move": {
            "reference": "REVIEW-TEXT-2",
            "personalCode": mover,
            "movedOn": "2025-06-01",
            "address": {
                "municipalityCode": "0101",
                "street": "Main Street",
                "houseNumber": "1",
                "postcode": "10115",
            },
        },
    }
    body = bodies[code]
    if "address" in body:
        body["address"].update(change)
    else:
        body.update(change)
    before = _counts(seeded)
    problem = _refused(_write(http, _registrar(seeded, seeded_seed), code, body))
    assert field in {e["field"] for e in problem["errors"]}
    assert "\x00" not in json.dumps(problem)  # the value is not echoed
    assert _counts(seeded) == before


def test_a_refused_marriage_names_the_fields_of_its_body(
    http: TestClient, seeded: Database, seeded_seed: int
) -> None:
    """A marriage to someone who has died, or on a day to come, was refused naming
    ``validFrom`` and ``validTo`` — the register's columns, not fields the registrar sent."""
    (bride,) = _codes(seeded, _LIVING_WOMAN)
    (deceased,) = _codes(seeded, "date_of_death IS NOT NULL AND sex = 'M'")
    (groom,) = _codes(seeded, "sex = 'M' AND date_of_death IS NULL AND birth_date < '1995-01-01'")
    headers = _registrar(seeded, seeded_seed)
    body_fields = {"reference", "spouses", "spouses[0]", "spouses[1]", "marriedOn", "kind"}
    for reference, spouses, married_on in (
        ("REVIEW-MARRIAGE-1", [bride, deceased], "2025-01-01"),
        ("REVIEW-MARRIAGE-2", [bride, groom], (utcnow() + timedelta(days=30)).date().isoformat()),
    ):
        body = {"reference": reference, "spouses": spouses, "marriedOn": married_on}
        problem = _refused(_write(http, headers, "record-marriage", body))
        fields = {e["field"] for e in problem["errors"]}
        assert fields <= body_fields, fields


# --- lists and identifiers ---------------------------------------------------------------------


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "values", [[{"id": 1}], [10**30], [None]], ids=["object", "beyond-64-bits", "null"]
)
def test_a_cursor_the_platform_did_not_make_is_refused_not_a_500(
    http: TestClient, seeded: Database, values: Any
) -> None:
    """A cursor is opaque but not signed: a well-formed one holding an object, null or a
    number beyond 64 bits went to the database as the key (500 on every keyset list: the
    catalogue, the dead letters, a person's entitlements, …)."""
    catalogue = _refused(http.get("/api/v1/catalogue/services", params={"cursor": _cursor(values)}))
    token, _ = operator_session(seeded)
    http.cookies.set("joinedup-session", token)
    dead_letters = _refused(
        http.get(
            "/api/v1/tell-us-once/dead-letters",
            params={"cursor": _cursor(values)},
            headers={"accept": "application/json"},
        )
    )
    assert catalogue["status"] == dead_letters["status"] == 422


def test_tell_us_once_ids_beyond_64_bits_are_refused_not_a_500(
    http: TestClient, seeded: Database
) -> None:
    token, csrf = operator_session(seeded)
    http.cookies.set("joinedup-session", token)
    json_only = {"accept": "application/json"}
    huge = 2**70
    event = _refused(http.get(f"/api/v1/tell-us-once/life-events/{huge}", headers=json_only))
    replay = _refused(
        http.post(
            f"/api/v1/tell-us-once/dead-letters/{huge}/replay",
            headers={**json_only, "X-CSRF-Token": csrf},
        )
    )
    assert event["status"] == replay["status"] == 422


# --- when the law changes ------------------------------------------------------------------


def _law(**changes: Any) -> dict[str, Any]:
    body = {
        "ruleset": "demo",
        "changes": ["family.child_benefit.amount_per_child=130"],
        "effectiveFrom": (utcnow() + timedelta(days=40)).date().replace(day=1).isoformat(),
        "citation": "Family Benefits (Amendment) Act 2026 §1",
    }
    body.update(changes)
    return body


def _laws(database: Database) -> int:
    return _counts(database, ("proactive_law_version",))["proactive_law_version"]


def test_an_agency_that_no_service_of_the_ruleset_belongs_to_cannot_change_its_law(
    http: TestClient, seeded: Database, seeded_seed: int
) -> None:
    """Any exchange client published a version of any ruleset (201), in force at once for
    every later decision of every service it decides: the Tax Board set the child benefit."""
    tax = {"Authorization": f"Bearer {_token(seeded, seeded_seed, 'tax-board/tax')}"}
    _refused(http.post(LAW, json=_law(), headers=tax), 403)
    assert _laws(seeded) == 0


def test_an_agency_cannot_change_the_parameters_of_another_agency_s_services(
    http: TestClient, seeded: Database, seeded_seed: int
) -> None:
    """A ruleset decides the services of several agencies; each parameter is its deciding
    services' owners' (the food bank, owning food parcels in the same ruleset, changed the
    Social Insurance Board's child benefit: 201)."""
    food_bank = {"Authorization": f"Bearer {_token(seeded, seeded_seed, 'food-bank/food-aid')}"}
    problem = _refused(http.post(LAW, json=_law(), headers=food_bank), 403)
    assert "family.child_benefit.amount_per_child" in problem["detail"]
    assert SIB_MEMBER in problem["detail"]  # who may, named
    assert _laws(seeded) == 0


def test_a_change_is_refused_whole_when_one_of_its_parameters_is_another_agency_s(
    http: TestClient, seeded: Database, seeded_seed: int
) -> None:
    """The Social Insurance Board's child benefit with a municipality's housing support in
    one version: the housing parameter decides only the municipalities' services."""
    sib = {"Authorization": f"Bearer {_token(seeded, seeded_seed, 'social-insurance/benefits')}"}
    changes = ["family.child_benefit.amount_per_child=130", "housing.rent_cap=900"]
    problem = _refused(http.post(LAW, json=_law(changes=changes), headers=sib), 403)
    assert "housing.rent_cap" in problem["detail"]
    assert SIB_MEMBER not in problem["detail"]
    # a parameter no catalogued service's decision depends on is no one's to change
    unused = _refused(
        http.post(LAW, json=_law(changes=["pensions.funeral_grant=500"]), headers=sib), 403
    )
    assert "decides no service" in unused["detail"]
    assert _laws(seeded) == 0
    municipality = next(o for o in organisations() if o.municipality_code is not None)
    local_token = _token(seeded, seeded_seed, f"{municipality.key}/social-services")
    local = {"Authorization": f"Bearer {local_token}"}
    answer = http.post(LAW, json=_law(changes=["housing.rent_cap=900"]), headers=local)
    assert answer.status_code == 201, answer.text
    assert _laws(seeded) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"changes": ["family.child_benefit.amount_per_child=" + "9" * 400]}, "changes[0]"),
        ({"changes": ["family.child_benefit.amount_per_child=NaN"]}, "changes[0]"),
        ({"changes": ["family.child_benefit.amount_per_child=Infinity"]}, "changes[0]"),
        ({"effectiveFrom": "0001-01-01"}, "effective_from"),
        ({"citation": "Family Benefits Act\x00"}, "citation"),
    ],
    ids=["huge-value", "nan", "infinity", "year-1", "control-character"],
)
def test_a_law_version_the_platform_cannot_apply_is_refused_writing_nothing(
    http: TestClient, seeded: Database, seeded_seed: int, change: dict[str, Any], field: str
) -> None:
    """Were published (201). A value the rules cannot turn into an amount made every later
    life event fail (``decimal.InvalidOperation`` in each birth's handling: the consumers'
    events dead-lettered); a version from year 1 made its re-evaluation fail ("'1-01' is not
    a period"); a NUL in the citation is a 500 on PostgreSQL."""
    sib = {"Authorization": f"Bearer {_token(seeded, seeded_seed, 'social-insurance/benefits')}"}
    problem = _refused(http.post(LAW, json=_law(**change), headers=sib))
    assert field in {e["field"] for e in problem["errors"]}
    assert _laws(seeded) == 0


@pytest.mark.parametrize("effective_from", ["2005-01-01", "2018-06-01"])
def test_who_owns_a_parameter_is_judged_over_every_day_the_version_is_in_force(
    http: TestClient, seeded: Database, seeded_seed: int, effective_from: str
) -> None:
    """A version stays in force from its date on: a parameter belongs to the owners of the
    services it decides on any of those days, including a formula that takes effect later
    (the child benefit's amount decides nothing in June 2018, everything from 2019), and a
    service the rules cannot decide on its first day (no school age in 2005) is passed over,
    not a 422 about school age."""
    sib = {"Authorization": f"Bearer {_token(seeded, seeded_seed, 'social-insurance/benefits')}"}
    answer = http.post(LAW, json=_law(effectiveFrom=effective_from), headers=sib)
    assert answer.status_code == 201, answer.text
    food_bank = {"Authorization": f"Bearer {_token(seeded, seeded_seed, 'food-bank/food-aid')}"}
    _refused(http.post(LAW, json=_law(effectiveFrom=effective_from), headers=food_bank), 403)
    assert _laws(seeded) == 1
