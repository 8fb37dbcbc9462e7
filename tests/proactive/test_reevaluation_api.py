"""The re-evaluation API: the owning agency publishes a law version and follows the
re-evaluation it starts; the central digital office may follow it too; anyone else, and every
bad request, gets a problem document and changes nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from reevaluation_support import count, month_start

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.demo.exchange_setup import demo_client_credentials
from joinedup.exchange import issue_access_token
from joinedup.web import create_app

BASE = "/api/v1/proactive"


@pytest.fixture
def http(settings: Settings, seeded_database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=seeded_database)) as client:
        yield client


@pytest.fixture
def token(seeded_database: Database, seeded_seed: int) -> Any:
    def make(key: str) -> dict[str, str]:
        return _token(seeded_database, seeded_seed, key)

    return make


def _token(database: Database, seed: int, key: str) -> dict[str, str]:
    client_id, secret = demo_client_credentials(seed, key)
    with database.unit_of_work() as session:
        token = issue_access_token(session, client_id=client_id, client_secret=secret)
    return {"Authorization": f"Bearer {token.access_token}"}


def _law(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ruleset": "demo",
        "changes": ["family.child_benefit.amount_per_child=130"],
        "effectiveFrom": month_start(1).isoformat(),
        "citation": "Family Benefits (Amendment) Act 2026 §1",
    }
    body.update(overrides)
    return body


def _problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    document: dict[str, Any] = answer.json()
    assert document["status"] == status
    return document


def test_an_agency_changes_the_law_and_follows_the_reevaluation(
    http: TestClient, token: Any
) -> None:
    sib = token("social-insurance/benefits")
    published = http.post(f"{BASE}/law-versions", json=_law(), headers=sib)
    assert published.status_code == 201, published.text
    law = published.json()
    assert law["changes"] == ["family.child_benefit.amount_per_child=130"]
    started = http.post(
        f"{BASE}/reevaluations",
        json={"lawVersion": law["uid"], "services": ["child-benefit"], "chunkPersons": 1000},
        headers=sib,
    )
    assert started.status_code == 202, started.text
    location = started.headers["location"]
    deadline = time.monotonic() + 120
    progress = started.json()
    while progress["status"] != "completed" and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = http.get(location, headers=sib)
        assert answer.status_code == 200, answer.text
        progress = answer.json()
    assert progress["status"] == "completed", progress
    assert progress["fractionDone"] == 1.0
    assert progress["changes"] == progress["letters"] > 0
    assert progress["personsDone"] == progress["personsTotal"]
    # the central digital office follows every agency's re-evaluations
    office = token("digital-office/exchange-admin")
    assert http.get(location, headers=office).json()["uid"] == progress["uid"]
    # resuming a completed run is a conflict
    _problem(http.post(f"{location}/resume", headers=sib), 409)


def test_bad_requests_are_problem_documents_and_change_nothing(
    http: TestClient, seeded_database: Database, token: Any
) -> None:
    sib = token("social-insurance/benefits")
    tax = token("tax-board/tax")
    _problem(http.post(f"{BASE}/law-versions", json=_law()), 401)
    bad_bodies = [
        _law(changes=["family.child_benefit.no_such_parameter=1"]),
        _law(changes=["family.child_benefit.amount_per_child=lots"]),
        _law(changes=[]),
        _law(effectiveFrom="2027-13-01"),
        _law(ruleset="no-such-ruleset"),
        _law(unexpected="field"),
        _law(citation=""),
    ]
    for body in bad_bodies:
        answer = http.post(f"{BASE}/law-versions", json=body, headers=sib)
        assert answer.status_code in (404, 422), (body, answer.text)
        _problem(answer, answer.status_code)
    assert count(seeded_database, "proactive_law_version") == 0

    law = http.post(f"{BASE}/law-versions", json=_law(), headers=sib).json()
    for body, status in (
        ({"lawVersion": str(uuid.uuid4()), "services": ["child-benefit"]}, 404),
        ({"lawVersion": law["uid"], "services": ["birth-grant"]}, 422),  # per occasion
        ({"lawVersion": law["uid"], "services": ["no-such-service"]}, 422),
        ({"lawVersion": law["uid"], "services": []}, 422),
        ({"lawVersion": law["uid"], "services": ["child-benefit"], "chunkPersons": 10}, 422),
        ({"lawVersion": "not-a-uuid", "services": ["child-benefit"]}, 422),
    ):
        _problem(http.post(f"{BASE}/reevaluations", json=body, headers=sib), status)
    # another agency may neither start nor follow the Social Insurance Board's re-evaluation
    _problem(
        http.post(
            f"{BASE}/reevaluations",
            json={"lawVersion": law["uid"], "services": ["child-benefit"]},
            headers=tax,
        ),
        403,
    )
    assert count(seeded_database, "proactive_reevaluation") == 0
    _problem(http.get(f"{BASE}/reevaluations/{uuid.uuid4()}", headers=sib), 404)
    _problem(http.get(f"{BASE}/reevaluations/not-a-uuid", headers=sib), 422)
    _problem(http.get(f"{BASE}/law-versions/{uuid.uuid4()}", headers=sib), 404)
