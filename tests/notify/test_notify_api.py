"""Agencies send letters over HTTP with their subsystem's OAuth credentials; the sender is
always the caller's own member; every refusal is a problem document."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from notify_support import Country

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.demo.exchange_setup import demo_client_credentials
from joinedup.exchange import issue_access_token
from joinedup.web import create_app

Token = Callable[[Database, str], dict[str, str]]


@pytest.fixture
def http(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=database)) as client:
        yield client


@pytest.fixture
def token(database: Database, seeded_seed: int) -> Token:
    """Bearer headers for a demo subsystem's OAuth client in the seeded country."""

    def token_for(database: Database, key: str) -> dict[str, str]:
        client_id, secret = demo_client_credentials(seeded_seed, key)
        with database.unit_of_work() as session:
            token = issue_access_token(session, client_id=client_id, client_secret=secret)
        return {"Authorization": f"Bearer {token.access_token}"}

    return token_for


def _body(country: Country, **overrides: Any) -> dict[str, Any]:
    body = {
        "recipientCode": country.person,
        "kind": "decision",
        "subject": "Housing support granted",
        "paragraphs": ["You get housing support.", "You may appeal within 30 days."],
        "reference": "case-42",
    }
    body.update(overrides)
    return body


def test_an_agency_sends_a_letter_and_follows_its_delivery(
    http: TestClient, database: Database, country: Country, token: Token
) -> None:
    social = token(database, "social-insurance/benefits")
    sent = http.post("/api/v1/notify/letters", json=_body(country), headers=social)
    assert sent.status_code == 201, sent.text
    letter = sent.json()
    assert letter["sender_member_code"] == country.social.split("/")[1]
    assert letter["channel"] == "mailbox"
    again = http.post("/api/v1/notify/letters", json=_body(country), headers=social)
    assert again.status_code == 200
    assert again.json()["message_id"] == letter["message_id"]
    assert again.json()["replayed"] is True
    conflict = http.post(
        "/api/v1/notify/letters", json=_body(country, subject="Other"), headers=social
    )
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    status = http.get(f"/api/v1/notify/letters/{letter['message_id']}", headers=social)
    assert status.status_code == 200
    assert status.json()["read_at"] is None
    # another agency cannot see it, nor guess it
    tax = token(database, "tax-board/tax")
    assert http.get(f"/api/v1/notify/letters/{letter['message_id']}", headers=tax).status_code == (
        404
    )
    assert http.get("/api/v1/notify/letters/not-a-uuid", headers=social).status_code == 422


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"recipientCode": "123"}, "recipient_code"),
        ({"kind": "threat"}, "kind"),
        ({"subject": ""}, "subject"),
        ({"paragraphs": []}, "paragraphs"),
        ({"reference": ""}, "reference"),
        ({"sender": "GOV/70000000"}, "sender"),  # the sender is never the body's to choose
        ({"locale": "fr"}, "locale"),
    ],
)
def test_bad_letters_are_problem_documents(
    http: TestClient,
    database: Database,
    country: Country,
    token: Token,
    overrides: dict[str, Any],
    field: str,
) -> None:
    answer = http.post(
        "/api/v1/notify/letters",
        json=_body(country, **overrides),
        headers=token(database, "social-insurance/benefits"),
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in answer.text


def test_without_credentials_nothing_is_sent(http: TestClient, country: Country) -> None:
    answer = http.post("/api/v1/notify/letters", json=_body(country))
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    forged = http.post(
        "/api/v1/notify/letters", json=_body(country), headers={"Authorization": "Bearer x.y.z"}
    )
    assert forged.status_code == 401
