"""The exchange answers a purpose resting on consent only while the data subject's consent is
in force: over /r1 and through the in-process exchange client. Without it the call is refused
(``Client.ConsentMissing``), recorded, and nothing is read."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from consent_support import ACTOR, credentials, living_adults, member, service, subsystem
from fastapi.testclient import TestClient
from sqlalchemy import select

from joinedup.consent import DataItem, LawfulBasis, give_consent, publish_data_agreement
from joinedup.consent import withdraw_consent as withdraw
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import ValidationFailed
from joinedup.core.settings import Settings
from joinedup.demo.purposes import FOOD_PARCELS_AGREEMENT
from joinedup.exchange import (
    LocalCallRefused,
    PurposeGrant,
    ServiceRef,
    SubsystemRef,
    exchange_client,
    grant_access_right,
    issue_access_token,
    registry_answers,
)
from joinedup.exchange.records import DataUsageRecord, MessageLogRecord
from joinedup.web import create_app

INSTANCE = "JOINEDUP"
FOOD_AID = subsystem("food-bank", "food-aid")
RESIDENCE = service("population-register", "addresses", "residence")
PURPOSE = "food-parcel-delivery"


@pytest.fixture
def http(settings: Settings, country: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=country)) as client:
        yield client


def _bearer(country: Database) -> str:
    client_id, secret = credentials("food-bank/food-aid")
    with country.unit_of_work() as session:
        token = issue_access_token(session, client_id=client_id, client_secret=secret)
    return token.access_token


def _read(http: TestClient, bearer: str, person: str, message_id: str) -> Any:
    return http.get(
        f"/r1/{INSTANCE}/{RESIDENCE}",
        params={"personalCode": person},
        headers={
            "Authorization": f"Bearer {bearer}",
            "X-Road-Client": f"{INSTANCE}/{FOOD_AID}",
            "X-Road-Purpose": PURPOSE,
            "X-Road-Id": message_id,
        },
    )


def _usages(country: Database, message_id: str) -> list[DataUsageRecord]:
    with country.reading() as session:
        rows = list(
            session.scalars(select(DataUsageRecord).where(DataUsageRecord.message_id == message_id))
        )
        session.expunge_all()
    return rows


def _message(country: Database, message_id: str) -> MessageLogRecord:
    with country.reading() as session:
        row = session.scalars(
            select(MessageLogRecord).where(MessageLogRecord.message_id == message_id)
        ).one()
        session.expunge(row)
    return row


def test_over_r1_refused_without_consent_answered_with_it_refused_after_withdrawal(
    http: TestClient, country: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with country.reading() as session:
        (person,) = living_adults(session, 1, offset=40)
    bearer = _bearer(country)
    answers = dict(registry_answers.ANSWERS)

    def must_not_read(*_: object) -> Any:
        raise AssertionError("the residence was read without consent")

    monkeypatch.setitem(registry_answers.ANSWERS, "residence", must_not_read)
    refused = _read(http, bearer, person, "consent-0001")
    assert refused.status_code == 403, refused.text
    assert refused.headers["X-Road-Error"] == "Client.ConsentMissing"
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/xroad-consent-missing")
    assert problem["data_agreement_id"] == str(FOOD_PARCELS_AGREEMENT)
    assert not {"address", "oneLine", "street", "postcode"} & set(problem)
    row = _message(country, "consent-0001")
    assert (row.status, row.error_type) == (403, "Client.ConsentMissing")
    assert _usages(country, "consent-0001") == []
    monkeypatch.setitem(registry_answers.ANSWERS, "residence", answers["residence"])

    with country.unit_of_work() as session:
        consent = give_consent(
            session,
            agreement_id=FOOD_PARCELS_AGREEMENT,
            subject_code=person,
            actor=f"person:{person}",
        )
    answered = _read(http, bearer, person, "consent-0002")
    assert answered.status_code == 200, answered.text
    assert set(answered.json()) == {"address"}
    (usage,) = _usages(country, "consent-0002")
    assert usage.subject_code == person
    assert usage.purpose == PURPOSE
    assert "consent" in usage.legal_basis
    assert str(consent.consent_record.id) in usage.legal_basis
    assert "food-parcel-delivery v1" in usage.legal_basis
    assert _message(country, "consent-0002").legal_basis == usage.legal_basis

    with country.unit_of_work() as session:
        withdraw(
            session,
            agreement_id=FOOD_PARCELS_AGREEMENT,
            subject_code=person,
            actor=f"person:{person}",
        )
    again = _read(http, bearer, person, "consent-0003")
    assert again.status_code == 403
    assert again.headers["X-Road-Error"] == "Client.ConsentMissing"
    assert _usages(country, "consent-0003") == []


def test_the_exchange_client_checks_consent_too(country: Database) -> None:
    with country.reading() as session:
        (person,) = living_adults(session, 1, offset=41)
    with country.unit_of_work() as session, exchange_client(session, client=FOOD_AID) as calls:
        with pytest.raises(LocalCallRefused) as refused:
            calls.call(RESIDENCE, purpose=PURPOSE, query={"personalCode": person})
        assert refused.value.error_type == "Client.ConsentMissing"
        assert refused.value.call_status == 403
    with country.reading() as session:
        refusals = session.scalars(
            select(MessageLogRecord).where(
                MessageLogRecord.error_type == "Client.ConsentMissing",
                MessageLogRecord.client_xroad_id == f"{INSTANCE}/{FOOD_AID}",
                MessageLogRecord.method == "GET",
            )
        ).all()
        assert refusals
    with country.unit_of_work() as session:
        give_consent(
            session, agreement_id=FOOD_PARCELS_AGREEMENT, subject_code=person, actor="client:x"
        )
        with exchange_client(session, client=FOOD_AID) as calls:
            answer = calls.call(RESIDENCE, purpose=PURPOSE, query={"personalCode": person})
        assert set(answer.body) == {"address"}
        assert "consent record" in answer.legal_basis
        withdraw(
            session, agreement_id=FOOD_PARCELS_AGREEMENT, subject_code=person, actor="client:x"
        )
        with exchange_client(session, client=FOOD_AID) as calls, pytest.raises(LocalCallRefused):
            calls.call(RESIDENCE, purpose=PURPOSE, query={"personalCode": person})
    with country.reading() as session:
        usage = session.scalars(
            select(DataUsageRecord).where(DataUsageRecord.message_id == answer.message_id)
        ).one()
        assert usage.legal_basis == answer.legal_basis


def _grant(session: Any, **purpose: Any) -> None:
    grant_access_right(
        session,
        client=SubsystemRef(*FOOD_AID.split("/")),
        service=ServiceRef(*RESIDENCE.split("/")),
        fields=["address"],
        purposes=[PurposeGrant(purpose="home-visits", legal_basis="Consent", **purpose)],
        valid_from=today(),
        actor=ACTOR,
    )


@pytest.mark.parametrize(
    ("purpose", "message"),
    [
        ({"lawful_basis": LawfulBasis.CONSENT}, "names the data agreement"),
        (
            {"lawful_basis": LawfulBasis.PUBLIC_TASK, "data_agreement_id": FOOD_PARCELS_AGREEMENT},
            "only a purpose resting on consent",
        ),
        (
            {
                "lawful_basis": LawfulBasis.CONSENT,
                "data_agreement_id": "6d1b5f1e-0000-4c55-9d5e-0f00d0ba2c01",
            },
            "is not a data agreement",
        ),
    ],
)
def test_a_consent_purpose_must_name_a_fitting_agreement(
    tx: Any, purpose: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _grant(tx, **purpose)
    (error,) = refused.value.extensions["errors"]
    assert error["field"] == "purposes[0].data_agreement_id"
    assert message in error["message"]


def test_an_agreement_of_another_controller_or_not_covering_the_fields_is_refused(
    tx: Any,
) -> None:
    care = publish_data_agreement(
        tx,
        controller=member("care-provider"),
        code="care-address",
        title="Care at home",
        purpose="We visit you at home.",
        lawful_basis=LawfulBasis.CONSENT,
        data_items=[DataItem(service=RESIDENCE, field="municipalityCode")],
        retention_days=30,
        actor=ACTOR,
    )
    with pytest.raises(ValidationFailed) as refused:
        _grant(tx, lawful_basis=LawfulBasis.CONSENT, data_agreement_id=care.id)
    messages = " ".join(e["message"] for e in refused.value.extensions["errors"])
    assert "not of the client's" in messages
    assert "does not cover address" in messages
