"""A move is told to the agencies that subscribe to moves. An agency whose system fails is
retried with growing delays, then dead-lettered: the spouse's letter says it has not confirmed,
the operator sees it (API for the Central Digital Office's staff, CLI) and replays it, the
agency then acts once, and the spouse gets a follow-up letter saying what it did."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from fastapi.testclient import TestClient
from tuo_support import (
    NATIONAL,
    RECORD_MOVE,
    REGISTRAR,
    drain,
    letters_to,
    married_couples,
    record_death,
    rows,
    store,
    take_in,
    take_in_deaths,
    tuo_settings,
)
from typer.testing import CliRunner

import joinedup.demo.handlers  # noqa: F401 (the agencies' systems, in-process)
from joinedup.cli import app as cli
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.demo import organisation
from joinedup.exchange import exchange_client, provider_transport
from joinedup.tellusonce.dispatcher import Dispatcher
from joinedup.web import create_app
from staff_support import operator_session

FAILING = "vehicle-registry"


def _deliver_all(settings: Settings, database: Database) -> None:
    async def run() -> None:
        async with httpx.AsyncClient(transport=provider_transport(settings)) as http:
            await drain(Dispatcher(settings, database), http, database)

    asyncio.run(run())


def test_a_move_is_told_to_the_vehicle_registry_and_both_municipalities(
    seeded_database: Database, tmp_path: Path
) -> None:
    database = seeded_database
    settings = tuo_settings(tmp_path / "var")
    person = married_couples(database)[0]
    old = person.municipality_key.removeprefix("municipality-")
    new, address_id = rows(
        database,
        "SELECT m.code, a.id FROM address a JOIN municipality m ON m.id = a.municipality_id "
        "WHERE m.code <> :old ORDER BY a.id LIMIT 1",
        old=old,
    )[0]
    with database.unit_of_work() as session, exchange_client(session, client=REGISTRAR) as calls:
        calls.write(
            RECORD_MOVE,
            purpose="civil-registration",
            body={"reference": "CRVS-TUO-MOVE", "personalCode": person.deceased,
                  "movedOn": today().isoformat(), "addressId": address_id},
        )  # fmt: skip
    assert take_in(database, "tellusonce.move", "population.address_changed.v1") == 1
    _deliver_all(settings, database)
    handled = {system: message for system, message, _ in store(settings).handled()}
    assert sorted(handled) == sorted(["vehicle-registry", f"municipality-{old}",
                                      f"municipality-{new}"])  # fmt: skip
    outcomes = dict(
        rows(
            database,
            "SELECT s.member_name, n.outcome FROM tellusonce_notification n "
            "JOIN tellusonce_subscription s ON s.id = n.subscription_id",
        )
    )
    outcomes = {k: json.loads(v) if isinstance(v, str) else v for k, v in outcomes.items()}
    by_code = {organisation(f"municipality-{c}").name: c for c in (old, new)}
    for name, outcome in outcomes.items():
        if name in by_code:
            expected = "resident-registered" if by_code[name] == new else "resident-deregistered"
            assert outcome["outcome"] == expected
    (letter,) = rows(
        database,
        "SELECT subject, paragraphs FROM notify_letter WHERE recipient_code = :code "
        "AND reference LIKE 'tell-us-once/%'",
        code=person.deceased,
    )
    assert letter[0] == "We told the government of your new address"
    assert not letters_to(database, person.spouse)


def test_a_failing_agency_is_retried_dead_lettered_shown_and_replayed(
    seeded_database: Database, tmp_path: Path
) -> None:
    database = seeded_database
    settings = tuo_settings(tmp_path / "var")
    couple = married_couples(database)[0]
    agencies = store(settings)
    agencies.set_failing(FAILING, True)
    record_death(database, couple.deceased, "CRVS-TUO-DL")
    assert take_in_deaths(database) == 1
    assert take_in_deaths(database) == 0  # a redelivered event changes nothing

    _deliver_all(settings, database)

    # the failing system was asked three times (the last attempt), acted never
    asked = [s for s, _ in agencies.received() if s == FAILING]
    assert len(asked) == settings.tell_us_once_max_attempts
    assert FAILING not in {s for s, _, _ in agencies.handled()}
    dead = rows(
        database,
        "SELECT n.id, n.attempts, n.last_error FROM tellusonce_notification n "
        "JOIN tellusonce_subscription s ON s.id = n.subscription_id "
        "WHERE n.status = 'dead_letter'",
    )
    assert len(dead) == 1
    notification_id, attempts, error = dead[0]
    assert attempts == 3
    assert "503" in error
    # everyone else acted once, and the spouse's one letter says who has not confirmed yet
    assert sorted(s for s, _, _ in agencies.handled()) == sorted(
        {*NATIONAL, couple.municipality_key} - {FAILING}
    )
    letters = letters_to(database, couple.spouse)
    assert len(letters) == 1
    paragraphs = letters[0][1] if isinstance(letters[0][1], list) else json.loads(letters[0][1])
    assert any(organisation(FAILING).name in p and "has not confirmed yet" in p for p in paragraphs)

    # the operator sees it: the CLI …
    runner = CliRunner()
    wide = {"COLUMNS": "250"}
    listed = runner.invoke(
        cli, ["tell-us-once", "dead-letters", "--database-url", database.url], env=wide
    )
    assert listed.exit_code == 0, listed.output
    assert "Vehicle Registry" in listed.output
    assert couple.deceased not in listed.output  # no personal data
    status = runner.invoke(
        cli, ["tell-us-once", "status", "--database-url", database.url], env=wide
    )
    assert status.exit_code == 0
    assert "notifications dead lettered" in status.output

    # … and the API for the office's staff, who replay it once the agency is back
    token, csrf = operator_session(database)
    with TestClient(create_app(settings, database=database)) as http:
        assert http.get("/api/v1/tell-us-once/dead-letters").status_code == 401
        http.cookies.set("joinedup-session", token)
        page = http.get("/api/v1/tell-us-once/dead-letters")
        assert page.status_code == 200, page.text
        assert [item["id"] for item in page.json()["items"]] == [notification_id]
        assert couple.deceased not in page.text
        refused = http.post(f"/api/v1/tell-us-once/dead-letters/{notification_id}/replay")
        assert refused.status_code == 403  # no CSRF token
        agencies.set_failing(FAILING, False)
        replayed = http.post(
            f"/api/v1/tell-us-once/dead-letters/{notification_id}/replay",
            headers={"X-CSRF-Token": csrf},
        )
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["status"] == "pending"
        again = http.post(
            f"/api/v1/tell-us-once/dead-letters/{notification_id}/replay",
            headers={"X-CSRF-Token": csrf},
        )
        assert again.status_code == 409
        assert again.headers["content-type"] == "application/problem+json"
        missing = http.post(
            "/api/v1/tell-us-once/dead-letters/999999/replay", headers={"X-CSRF-Token": csrf}
        )
        assert missing.status_code == 404

    _deliver_all(settings, database)
    assert [s for s, _, _ in agencies.handled()].count(FAILING) == 1
    state = rows(
        database,
        "SELECT status, replayed_by, outcome FROM tellusonce_notification WHERE id = :id",
        id=notification_id,
    )[0]
    assert state[0] == "acknowledged"
    assert state[1].startswith("staff:")
    # the spouse, told it had not confirmed yet, gets a follow-up with what it did
    letters = letters_to(database, couple.spouse)
    assert len(letters) == 2
    subject, paragraphs, reference, _sender = letters[1]
    paragraphs = paragraphs if isinstance(paragraphs, list) else json.loads(paragraphs)
    assert subject.startswith("An update on telling the government of the death of")
    assert any("has confirmed now" in p for p in paragraphs)
    assert any(p.startswith(organisation(FAILING).name + ":") for p in paragraphs)
    assert reference.endswith(f"/update-{notification_id}")
    _deliver_all(settings, database)  # nothing is pending: no third letter
    assert len(letters_to(database, couple.spouse)) == 2
