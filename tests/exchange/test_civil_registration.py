"""The civil-registration entry points over /r1: the population register's write services,
called by the demo's registrar like any X-Road service — registered, answered, idempotent on
the reference, every bad input a problem naming the field with nothing written, refusals
recorded, and the signed message log holding both bodies."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
from civil_support import (
    INSTANCE,
    bearer,
    birth,
    counts,
    headers,
    people,
    running,
    service,
    url,
)
from rights_support import demo_country  # noqa: F401 (fixture)
from sqlalchemy import select, text

from joinedup.core.db import Database
from joinedup.core.outbox import OutboxEvent
from joinedup.core.settings import Settings
from joinedup.demo import organisation
from joinedup.exchange import member_signing_key
from joinedup.exchange.messagelog import message_row, signatures_valid
from joinedup.exchange.records import DataUsageRecord
from joinedup.registries import (
    find_person_id,
    get_person,
    issue_personal_code,
    relations_of,
    residence_of,
)

PROBLEM = "application/problem+json"


def _events(database: Database, name: str) -> list[dict[str, Any]]:
    with database.reading() as session:
        return [
            dict(row.payload)
            for row in session.scalars(select(OutboxEvent).where(OutboxEvent.name == name))
        ]


def _post(http: Any, token: str, code: str, body: Any, **extra: str) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(
        url(code),
        content=raw,
        headers={**headers(token), "Content-Type": "application/json", **extra},
    )


def test_a_birth_is_registered_answered_signed_and_logged(
    settings: Settings,
    demo_country: Database,  # noqa: F811
) -> None:
    mother, father = (
        people(demo_country, sex="F", count=1)[0],
        people(demo_country, sex="M", count=1)[0],
    )
    before = counts(demo_country)
    body = birth("CRVS-B-1", mother, father)
    with running(settings, demo_country) as http:
        token = bearer(demo_country)
        answer = _post(http, token, "record-birth", body, **{"X-Road-Id": "birth-0001"})
    assert answer.status_code == 201, answer.text
    registered = answer.json()
    assert set(registered) == {
        "reference",
        "registrationId",
        "personalCode",
        "personRef",
        "parentRefs",
        "municipalityCode",
    }
    assert registered["reference"] == "CRVS-B-1"
    assert "Idempotent-Replay" not in answer.headers
    with demo_country.reading() as session:
        child = get_person(session, personal_code=registered["personalCode"])
        mother_id = find_person_id(session, personal_code=mother)
        father_id = find_person_id(session, personal_code=father)
        parents = {r.person_id for r in relations_of(session, person_id=child.id)}
        assert str(child.id) == registered["personRef"]
        assert registered["parentRefs"] == [str(mother_id), str(father_id)]
        assert {mother_id, father_id} <= parents
        assert child.given_names == "Mari"
        assert child.residence is not None
        home = residence_of(session, person_id=mother_id, valid=child.birth_date)
        assert home is not None
        assert child.residence.address.id == home.address.id
        # the message log holds both bodies, signed by both members
        row = message_row(session, message_id="birth-0001")
        assert json.loads(row["request_body"]) == body
        assert json.loads(row["response_body"]) == registered
        assert row["method"] == "POST"
        assert row["purpose"] == "civil-registration"
        registrar = member_signing_key(session, member_id=row["client_member_id"])
        register = member_signing_key(session, member_id=row["provider_member_id"])
        assert signatures_valid(
            row, client=registrar.verifying_key, provider=register.verifying_key
        )
        subjects = set(
            session.scalars(
                select(DataUsageRecord.subject_code).where(
                    DataUsageRecord.message_id == "birth-0001"
                )
            )
        )
        assert subjects == {registered["personalCode"], mother, father}
    (event,) = [
        e
        for e in _events(demo_country, "population.birth_registered.v1")
        if e["person_id"] == child.id
    ]
    assert event["parent_ids"] == [mother_id, father_id]
    assert event["birth_date"] == "2025-05-20"
    assert event["municipality_code"] == registered["municipalityCode"]
    after = counts(demo_country)
    assert after["person"] == before["person"] + 1
    assert after["exchange_write_request"] == before["exchange_write_request"] + 1


def test_a_repeated_reference_replays_and_another_body_conflicts(
    settings: Settings,
    demo_country: Database,  # noqa: F811
) -> None:
    (mother,) = people(demo_country, sex="F", count=1, offset=1)
    body = birth("CRVS-B-2", mother)
    with running(settings, demo_country) as http:
        token = bearer(demo_country)
        first = _post(http, token, "record-birth", body)
        assert first.status_code == 201, first.text
        before = counts(demo_country)
        # the same body, differently spelled (key order, whitespace): the same request
        spelled = json.dumps(dict(reversed(list(body.items()))), indent=2).encode()
        replay = _post(http, token, "record-birth", spelled, **{"X-Road-Id": "birth-replay"})
        assert replay.status_code == 201
        assert replay.headers["Idempotent-Replay"] == "true"
        assert replay.json() == first.json()
        assert counts(demo_country) == before  # nothing registered, no event
        other = _post(http, token, "record-birth", {**body, "givenNames": "Liis"})
        assert other.status_code == 409
        assert other.headers["content-type"] == PROBLEM
        assert other.json()["registration_id"] == first.json()["registrationId"]
        elsewhere = _post(
            http,
            token,
            "record-death",
            {"reference": "CRVS-B-2", "personalCode": mother, "dateOfDeath": "2025-05-30"},
        )
        assert elsewhere.status_code == 409
        assert counts(demo_country) == before
        with demo_country.reading() as session:
            row = message_row(session, message_id="birth-replay")
            assert row["status"] == 201
            assert json.loads(row["response_body"]) == first.json()


def test_a_death_a_marriage_and_a_move_are_registered(
    settings: Settings,
    demo_country: Database,  # noqa: F811
) -> None:
    bride, widow = people(demo_country, sex="F", count=2, offset=2)
    groom, deceased = people(demo_country, sex="M", count=2, offset=2)
    with running(settings, demo_country) as http:
        token = bearer(demo_country)
        married = _post(
            http,
            token,
            "record-marriage",
            {"reference": "CRVS-M-1", "spouses": [bride, groom], "marriedOn": "2025-05-10"},
        )
        assert married.status_code == 201, married.text
        assert married.json()["kind"] == "marriage"
        died = _post(
            http,
            token,
            "record-death",
            {"reference": "CRVS-D-1", "personalCode": deceased, "dateOfDeath": "2025-05-30"},
        )
        assert died.status_code == 201, died.text
        with demo_country.reading() as session:
            municipality = session.execute(
                text("SELECT code FROM municipality ORDER BY code LIMIT 1")
            ).scalar_one()
            address_id = session.execute(text("SELECT min(id) FROM address")).scalar_one()
        moved = _post(
            http,
            token,
            "record-move",
            {
                "reference": "CRVS-A-1",
                "personalCode": widow,
                "movedOn": "2025-06-02",
                "addressId": address_id,
            },
        )
        assert moved.status_code == 201, moved.text
        details = {
            "municipalityCode": municipality,
            "street": "Registrars' Lane",
            "houseNumber": "7",
            "postcode": "10115",
        }
        before = counts(demo_country)
        moved_again = _post(
            http,
            token,
            "record-move",
            {
                "reference": "CRVS-A-2",
                "personalCode": bride,
                "movedOn": "2025-06-03",
                "address": details,
            },
        )
        assert moved_again.status_code == 201, moved_again.text
        assert counts(demo_country)["address"] == before["address"] + 1
        # the same details again find the address the register now has
        moved_too = _post(
            http,
            token,
            "record-move",
            {
                "reference": "CRVS-A-3",
                "personalCode": groom,
                "movedOn": "2025-06-03",
                "address": details,
            },
        )
        assert moved_too.status_code == 201, moved_too.text
        assert moved_too.json()["addressId"] == moved_again.json()["addressId"]
    with demo_country.reading() as session:
        gone = get_person(session, personal_code=deceased)
        assert str(gone.date_of_death) == "2025-05-30"
        bride_id = find_person_id(session, personal_code=bride)
        union = [r for r in relations_of(session, person_id=bride_id) if r.kind == "spouse"]
        assert [str(r.id) for r in union] == [married.json()["relationId"]]
        home = residence_of(session, person_id=bride_id)
        assert home is not None
        assert str(home.address.id) == moved_again.json()["addressId"]
    names = {
        e
        for e in (
            "population.marriage_registered.v1",
            "population.death_registered.v1",
            "population.address_changed.v1",
        )
        if _events(demo_country, e)
    }
    assert len(names) == 3


_BIRTH_PROBLEMS = [
    ({"givenNames": None}, "givenNames"),
    ({"birthDate": "2025-02-30"}, "birthDate"),
    ({"birthDate": "2999-01-01"}, "birthDate"),
    ({"sex": "X"}, "sex"),
    ({"parents": []}, "parents"),
    ({"parents": ["12345678901"]}, "parents[0]"),
    ({"surprise": 1}, "surprise"),
    ({"reference": ""}, "reference"),
    ({"reference": "has spaces"}, "reference"),
]


@pytest.mark.parametrize(("change", "field"), _BIRTH_PROBLEMS)
def test_a_bad_birth_is_a_problem_naming_the_field_and_writes_nothing(
    settings: Settings,
    demo_country: Database,  # noqa: F811
    change: dict[str, Any],
    field: str,
) -> None:
    (mother,) = people(demo_country, sex="F", count=1, offset=4)
    body = {k: v for k, v in {**birth("CRVS-BAD", mother), **change}.items() if v is not None}
    before = counts(demo_country)
    with running(settings, demo_country) as http:
        answer = _post(http, bearer(demo_country), "record-birth", body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    assert "X-Road-Error" not in answer.headers  # the register refused, not the mediator
    assert field in {e["field"] for e in answer.json()["errors"]}
    assert counts(demo_country) == before


def _unknown_parent(database: Database) -> str:
    """A valid personal code nobody has."""
    with database.reading() as session:
        return issue_personal_code(session, birth_date=date(1980, 1, 1), sex="F")


@pytest.mark.parametrize(
    ("code", "body", "field"),
    [
        ("record-birth", "unknown-parent", "parents[0]"),
        ("record-birth", "parent-too-young", "parents"),
        ("record-death", {"dateOfDeath": "1900-01-01"}, "dateOfDeath"),
        ("record-death", {"dateOfDeath": "2999-01-01"}, "dateOfDeath"),
        ("record-death", {"personalCode": "not-a-code"}, "personalCode"),
        ("record-marriage", "same-person", "spouses[1]"),
        ("record-marriage", {"marriedOn": "nonsense"}, "marriedOn"),
        ("record-marriage", {"kind": "engagement"}, "kind"),
        ("record-move", {"addressId": 999999999}, "addressId"),
        ("record-move", "both-addresses", "body"),
        ("record-move", "new-address-bad-date", "movedOn"),
        ("record-move", "new-address-bad-municipality", "address.municipalityCode"),
    ],
)
def test_every_entry_point_refuses_bad_input_without_a_partial_write(
    settings: Settings,
    demo_country: Database,  # noqa: F811
    code: str,
    body: Any,
    field: str,
) -> None:
    (woman,) = people(demo_country, sex="F", count=1, offset=5)
    (man,) = people(demo_country, sex="M", count=1, offset=5)
    new_address = {
        "municipalityCode": "0101",
        "street": "Nowhere St",
        "houseNumber": "1",
        "postcode": "10115",
    }
    bodies: dict[str, dict[str, Any]] = {
        "record-birth": birth("CRVS-X", woman),
        "record-death": {"reference": "CRVS-X", "personalCode": man, "dateOfDeath": "2025-05-30"},
        "record-marriage": {
            "reference": "CRVS-X",
            "spouses": [woman, man],
            "marriedOn": "2025-05-10",
        },
        "record-move": {
            "reference": "CRVS-X",
            "personalCode": woman,
            "movedOn": "2025-06-02",
            "addressId": 1,
        },
    }
    sent = {**bodies[code], "reference": f"CRVS-X-{uuid.uuid4().hex[:12]}"}
    if body == "unknown-parent":
        sent["parents"] = [_unknown_parent(demo_country)]
    elif body == "parent-too-young":
        sent["birthDate"] = "1950-01-01"  # before the mother was born
    elif body == "same-person":
        sent["spouses"] = [woman, woman]
    elif body == "both-addresses":
        sent["address"] = new_address
    elif body == "new-address-bad-date":  # a new address would be registered, then the move fails
        sent.pop("addressId")
        sent["address"] = new_address
        sent["movedOn"] = "1900-01-01"
    elif body == "new-address-bad-municipality":
        sent.pop("addressId")
        sent["address"] = {**new_address, "municipalityCode": "9999"}
    else:
        sent.update(body)
    before = counts(demo_country)
    with running(settings, demo_country) as http:
        answer = _post(http, bearer(demo_country), code, sent)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == PROBLEM
    fields = {e["field"] for e in answer.json().get("errors", [])}
    assert field in fields, fields
    assert counts(demo_country) == before


def test_a_body_that_is_not_json_and_a_get_are_refused(
    settings: Settings,
    demo_country: Database,  # noqa: F811
) -> None:
    before = counts(demo_country)
    with running(settings, demo_country) as http:
        token = bearer(demo_country)
        not_json = _post(http, token, "record-birth", b"{not json")
        assert not_json.status_code == 422
        assert not_json.json()["errors"] == [{"field": "body", "message": "not JSON"}]
        listed = _post(http, token, "record-birth", b"[1, 2]")
        assert listed.status_code == 422
        got = http.get(url("record-birth"), headers=headers(token))
        assert got.status_code == 405
        assert got.headers["content-type"] == PROBLEM
    assert counts(demo_country) == before


def test_the_mediator_refuses_a_caller_without_the_right_purpose_or_identity(
    settings: Settings,
    demo_country: Database,  # noqa: F811
) -> None:
    (mother,) = people(demo_country, sex="F", count=1, offset=6)
    body = birth("CRVS-R-1", mother)
    benefits = f"GOV/{organisation('social-insurance').member_code}/benefits"
    before = counts(demo_country)
    with running(settings, demo_country) as http:
        registrar = bearer(demo_country)
        social = bearer(demo_country, "social-insurance/benefits")
        raw = json.dumps(body).encode()
        cases = [
            (  # a subsystem without a right to the service
                http.post(
                    url("record-birth"), content=raw, headers=headers(social, client=benefits)
                ),
                403,
                "Client.AccessDenied",
            ),
            (  # the registrar, for another purpose
                http.post(
                    url("record-birth"),
                    content=raw,
                    headers=headers(registrar, purpose="child-benefit"),
                ),
                403,
                "Client.PurposeNotAllowed",
            ),
            (  # the registrar's token, another subsystem's client header
                http.post(
                    url("record-birth"), content=raw, headers=headers(registrar, client=benefits)
                ),
                403,
                "Client.ClientIdentifierMismatch",
            ),
            (  # no purpose at all
                http.post(url("record-birth"), content=raw, headers=headers(registrar, purpose="")),
                400,
                "Client.MissingPurpose",
            ),
        ]
        for answer, status, error in cases:
            assert answer.status_code == status, answer.text
            assert answer.headers["X-Road-Error"] == error
    assert counts(demo_country) == before
    with demo_country.reading() as session:
        errors = set(
            session.scalars(
                text("SELECT error_type FROM exchange_message WHERE service_xroad_id = :service"),
                {"service": f"{INSTANCE}/{service('record-birth')}"},
            )
        )
    assert {"Client.AccessDenied", "Client.PurposeNotAllowed"} <= errors
