"""The service catalogue: Joinland's services by life event, validated entries, and the
public read-only API with keyset pages and problem documents."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from proactive_support import SIB
from sqlalchemy import text

from joinedup import catalogue
from joinedup.catalogue import Concerns, DeliveryMode, LawfulBasis, LifeEvent
from joinedup.core.db import Database
from joinedup.core.errors import ValidationFailed
from joinedup.core.settings import Settings
from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT
from joinedup.web import create_app

PROBLEM = "application/problem+json"


@pytest.fixture
def http(seeded: Database, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(environment="test", data_dir=tmp_path / "var", log_format="console")
    with TestClient(create_app(settings, database=seeded)) as client:
        yield client


def test_the_demo_catalogue_by_life_event(seeded: Database) -> None:
    with seeded.reading() as session:
        births = catalogue.services_for_life_event(session, life_event=LifeEvent.BIRTH)
        assert [s.code for s in births] == ["birth-grant", "child-benefit", "parental-benefit"]
        benefit = catalogue.get_catalogued_service(session, code="child-benefit")
        assert benefit.owner.member_code == SIB.member_code
        assert benefit.owner.client.endswith("/benefits")
        assert benefit.delivery_mode is DeliveryMode.AUTOMATIC
        assert benefit.concerned(LifeEvent.BIRTH) == [Concerns.PARENTS]
        assert benefit.name("et") == "Lapsetoetus"
        assert benefit.name("en") == "Child benefit"
        parcels = catalogue.get_catalogued_service(session, code="food-parcels")
        assert parcels.lawful_basis is LawfulBasis.CONSENT
        assert parcels.data_agreement_id == FOOD_PARCELS_AGREEMENT
        by_event = catalogue.services_by_life_event(session)
        assert list(by_event) == list(LifeEvent)
        assert {s.code for s in by_event[LifeEvent.PENSION_AGE]} == {"old-age-pension"}
        local = [s for s in by_event[LifeEvent.AGE_6] if s.owner.municipality_code]
        assert local
        assert all(s.level.value == "local" for s in local)


def _entry(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "code": "test-service",
        "names": {"en": "Test service"},
        "descriptions": {"en": "A service for the tests."},
        "owner": f"GOV/{SIB.member_code}/benefits",
        "level": "national",
        "delivery_mode": "automatic",
        "life_events": [("birth", "parents")],
        "ruleset": "demo",
        "variable": "child_benefit",
        "purpose": "benefit-eligibility",
        "legal_basis": "Family Benefits Act 2019 §4",
        "actor": "test",
    }
    values.update(changes)
    return values


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"code": "Bad Code"}, "code"),
        ({"names": {"et": "Ainult eesti keeles"}}, "names"),
        ({"names": {"en": "x", "xx": "unknown language"}}, "names.xx"),
        ({"owner": "GOV/00000000/benefits"}, "owner"),
        ({"owner": "not-an-owner"}, "owner"),
        ({"level": "galactic"}, "level"),
        ({"delivery_mode": "telepathy"}, "delivery_mode"),
        ({"variable": "no_such_variable"}, "variable"),
        ({"life_events": [("birth", "estate")]}, "life_events[0]"),
        ({"life_events": [("christening", "parents")]}, "life_events[0].life_event"),
        ({"life_events": []}, "life_events"),
        ({"lawful_basis": "consent"}, "data_agreement_id"),
        ({"data_agreement_id": FOOD_PARCELS_AGREEMENT}, "data_agreement_id"),
        ({"apply_url": "javascript:alert(1)"}, "apply_url"),
        ({"legal_basis": ""}, "legal_basis"),
    ],
)
def test_a_bad_entry_names_the_field_and_writes_nothing(
    seeded: Database, changes: dict[str, Any], field: str
) -> None:
    with seeded.reading() as session:
        before = session.scalar(text("SELECT count(*) FROM catalogue_service"))
    with seeded.unit_of_work() as session, pytest.raises(ValidationFailed) as refused:
        catalogue.catalogue_service(session, **_entry(**changes))
    assert field in {e["field"] for e in refused.value.extensions["errors"]}
    with seeded.reading() as session:
        assert session.scalar(text("SELECT count(*) FROM catalogue_service")) == before


def test_another_controller_s_agreement_is_refused(seeded: Database) -> None:
    entry = _entry(lawful_basis="consent", data_agreement_id=FOOD_PARCELS_AGREEMENT)
    with seeded.unit_of_work() as session, pytest.raises(ValidationFailed) as refused:
        catalogue.catalogue_service(session, **entry)
    assert refused.value.extensions["errors"] == [
        {"field": "data_agreement_id", "message": "the data agreement is another controller's"}
    ]


def test_revising_an_entry_keeps_one_row_and_emits_an_event(seeded: Database) -> None:
    with seeded.unit_of_work() as session:
        catalogue.catalogue_service(session, **_entry())
        revised = catalogue.catalogue_service(
            session, **_entry(names={"en": "Renamed", "et": "Uus nimi"})
        )
    assert revised.name("et") == "Uus nimi"
    with seeded.reading() as session:
        assert (
            session.scalar(
                text("SELECT count(*) FROM catalogue_service WHERE code = 'test-service'")
            )
            == 1
        )
        events = session.execute(
            text(
                "SELECT payload FROM outbox_event WHERE name = 'catalogue.service_catalogued.v1' "
                "ORDER BY id DESC LIMIT 2"
            )
        ).all()
    assert len(events) == 2


def test_the_api_pages_through_the_catalogue(http: TestClient) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        answer = http.get(
            "/api/v1/catalogue/services",
            params={"limit": 25, **({"cursor": cursor} if cursor else {})},
        )
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += [s["code"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen))
    assert {"child-benefit", "birth-grant", "old-age-pension", "food-parcels"} <= set(seen)
    births = http.get("/api/v1/catalogue/services", params={"lifeEvent": "birth"}).json()
    assert [s["code"] for s in births["items"]] == [
        "birth-grant",
        "child-benefit",
        "parental-benefit",
    ]
    one = http.get("/api/v1/catalogue/services/child-benefit").json()
    assert one["names"]["et"] == "Lapsetoetus"
    assert one["life_events"] == [
        {"life_event": "birth", "concerns": "parents"},
        {"life_event": "age_18", "concerns": "parents"},
        {"life_event": "address_change", "concerns": "parents"},
    ]


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/v1/catalogue/services/no-such-service", {}, 404),
        ("/api/v1/catalogue/services", {"lifeEvent": "christening"}, 422),
        ("/api/v1/catalogue/services", {"cursor": "forged!"}, 422),
        ("/api/v1/catalogue/services", {"limit": 0}, 422),
        ("/api/v1/catalogue/services", {"deliveryMode": "telepathy"}, 422),
    ],
)
def test_bad_questions_are_problem_documents(
    http: TestClient, path: str, params: dict[str, Any], status: int
) -> None:
    answer = http.get(path, params=params)
    assert answer.status_code == status
    assert answer.headers["content-type"] == PROBLEM
    assert answer.json()["status"] == status


def test_the_life_event_subsystem_default_is_the_demo_country_s() -> None:
    from joinedup.demo.exchange_setup import life_event_subsystem

    assert Settings().life_event_subsystem == life_event_subsystem()


def test_services_read_together_are_those_read_one_by_one(seeded: Database) -> None:
    """``get_catalogued_services`` (a person's entitlements page, the letters) answers what
    ``get_catalogued_service`` answers for each code, leaves unknown codes out and keeps a
    service withdrawn from the catalogue (its entitlements stay readable)."""
    with seeded.unit_of_work() as session:
        catalogue.catalogue_service(session, **_entry())
        session.execute(
            text("UPDATE catalogue_service SET active = false WHERE code = 'test-service'")
        )
    codes = ["child-benefit", "test-service", "no-such-service", "birth-grant", "child-benefit"]
    with seeded.reading() as session:
        together = catalogue.get_catalogued_services(session, codes=codes)
        one_by_one = {
            code: catalogue.get_catalogued_service(session, code=code)
            for code in ("child-benefit", "test-service", "birth-grant")
        }
        assert catalogue.get_catalogued_services(session, codes=[]) == {}
    assert together == one_by_one
    assert together["test-service"].active is False
    assert together["child-benefit"].life_events  # with their life events
