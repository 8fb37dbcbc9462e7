"""Tell Us Once delivering to the agencies: their systems, how the dispatcher reads each kind
of answer (acknowledged, retried or dead-lettered), what the exchange refuses, and the answers
recorded together."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from tuo_support import (
    PENSION_SERVICE,
    completed,
    married_couples,
    record_death,
    rows,
    scalar,
    store,
    take_in_deaths,
    tuo_settings,
)

import joinedup.demo.handlers  # noqa: F401 (the agencies' systems, in-process)
from joinedup import tellusonce
from joinedup.core.db import Database
from joinedup.core.loops import LoopRegistry, loop
from joinedup.core.pagination import PageRequest
from joinedup.core.settings import Settings
from joinedup.demo import organisation
from joinedup.demo.agency_systems import agency_systems_app
from joinedup.exchange import (
    LocalCallRefused,
    ProviderTransport,
    ProviderUnreachable,
    ServiceRef,
    list_access_rights,
    mount_local_system,
    revoke_access_right,
    send_to_service,
)
from joinedup.tellusonce.dispatcher import Dispatcher

TUO = f"GOV/{organisation('digital-office').member_code}/tell-us-once"


# --- the agencies' systems ------------------------------------------------------------------


def _notice(code: str = "39001010008") -> dict[str, Any]:
    return {
        "lifeEvent": "death",
        "reference": str(uuid.uuid4()),
        "occurredOn": "2026-11-20",
        "person": {"personalCode": code, "givenNames": "Mari", "familyName": "Tamm"},
    }


def test_an_agency_system_acts_once_per_message_id_and_refuses_bad_input(tmp_path: Path) -> None:
    settings = tuo_settings(tmp_path / "var")
    url = "/social-insurance/life-events"
    headers = {"X-Road-Id": "m-1", "X-Road-Client": "JOINEDUP/GOV/1/tell-us-once"}
    with TestClient(agency_systems_app(settings)) as http:
        first = http.post(url, json=_notice(), headers=headers)
        assert first.status_code == 200
        assert first.json()["outcome"] == "pension-ended"
        assert first.json()["effectiveFrom"] == "2026-12-01"
        again = http.post(url, json=_notice("51501010002"), headers=headers)
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replay"] == "true"
        assert http.post(url, json=_notice()).status_code == 400  # not through the exchange
        bad = http.post(url, json={"lifeEvent": "death"}, headers={**headers, "X-Road-Id": "2"})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        store(settings).set_failing("social-insurance", True)
        down = http.post(url, json=_notice(), headers={**headers, "X-Road-Id": "m-3"})
        assert down.status_code == 503
    assert [m for _, m, _ in store(settings).handled()] == ["m-1"]


def test_a_production_platform_does_not_serve_the_demo_agencies(tmp_path: Path) -> None:
    production = Settings(
        environment="production",
        data_dir=tmp_path / "var",
        secret_key="x" * 40,
        log_signing_key="pem",
        database_url="postgresql+psycopg://joinedup@db/joinedup",
        oidc_issuer="https://eid.example.gov",
        oidc_client_secret="y" * 40,
    )
    with TestClient(agency_systems_app(production)) as http:
        answer = http.post(
            "/social-insurance/life-events",
            json=_notice(),
            headers={"X-Road-Id": "m-1", "X-Road-Client": "JOINEDUP/GOV/1/tell-us-once"},
        )
    assert answer.status_code == 404
    assert not store(production).handled()


def test_an_agency_answer_must_say_what_it_did() -> None:
    tellusonce.AgencyAnswer.model_validate({"outcome": "pension-ended", "summary": "Done."})
    for bad in ({"outcome": "Pension Ended!", "summary": "x"}, {"outcome": "x"}, {}):
        with pytest.raises(ValidationError):
            tellusonce.AgencyAnswer.model_validate(bad)
    delays = [tellusonce.retry_delay(30, attempt) for attempt in (1, 2, 3, 20)]
    assert delays[:3] == [timedelta(seconds=30), timedelta(seconds=60), timedelta(seconds=120)]
    assert delays[3] == timedelta(days=1)


# --- the dispatcher reads each kind of answer -----------------------------------------------


def _one_pending(seeded: Database) -> int:
    """A death taken in with only the pension agency subscribed; its notification's id."""
    couple = married_couples(seeded)[0]
    with seeded.unit_of_work() as session:
        for subscription in tellusonce.list_subscriptions(session):
            if subscription.service != PENSION_SERVICE:
                tellusonce.end_subscription(session, subscription_id=subscription.id, actor="test")
    record_death(seeded, couple.deceased, "CRVS-UNIT-3")
    assert take_in_deaths(seeded) == 1
    return int(scalar(seeded, "SELECT id FROM tellusonce_notification"))


def _round(settings: Any, seeded: Database, answer: httpx.Response | Exception) -> str:
    def agency(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def run() -> int:
        async with httpx.AsyncClient(transport=httpx.MockTransport(agency)) as http:
            return await Dispatcher(settings, seeded, http=http).run_once()

    assert asyncio.run(run()) == 1
    return str(scalar(seeded, "SELECT status FROM tellusonce_notification"))


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        (httpx.Response(200, json={"outcome": "pension-ended", "summary": "Ended."}),
         "acknowledged", None),
        (httpx.Response(200, text="ok"), "pending", "not an acknowledgement"),
        (httpx.Response(503), "pending", "HTTP 503"),
        (httpx.Response(429), "pending", "HTTP 429"),
        (httpx.Response(404), "dead_letter", "HTTP 404"),
        (httpx.ConnectError("refused"), "pending", "Server.ServerProxy.NetworkError"),
    ],
)  # fmt: skip
def test_the_dispatcher_acknowledges_retries_or_dead_letters_by_the_answer(
    seeded: Database,
    tmp_path: Path,
    answer: httpx.Response | Exception,
    status: str,
    error: str | None,
) -> None:
    _one_pending(seeded)
    settings = tuo_settings(tmp_path / "var", tell_us_once_retry_delay=60)
    assert _round(settings, seeded, answer) == status
    attempts, last_error = rows(seeded, "SELECT attempts, last_error FROM tellusonce_notification")[
        0
    ]
    assert attempts == 1
    if error is None:
        assert last_error is None
    else:
        assert error in last_error
    # every attempt is a mediated call in the message log, answered or not
    assert (
        scalar(
            seeded,
            "SELECT count(*) FROM exchange_message WHERE service_xroad_id LIKE '%/life-events'",
        )
        == 1
    )
    if status == "pending":  # not due again before the retry delay
        with seeded.unit_of_work() as session:
            due = tellusonce.claim(
                session, owner="test", lease_seconds=1, max_attempts=3
            ).deliveries
        assert due == []


def test_without_an_access_right_the_notification_is_dead_lettered_and_recorded(
    seeded: Database, tmp_path: Path
) -> None:
    notification = _one_pending(seeded)
    with seeded.unit_of_work() as session:
        (right,) = list_access_rights(
            session,
            page=PageRequest(),
            service=ServiceRef.parse(PENSION_SERVICE, instance="JOINEDUP"),
        ).items
        revoke_access_right(session, right_id=right.id, reason="test", actor="test")
    settings = tuo_settings(tmp_path / "var")
    assert _round(settings, seeded, httpx.Response(500)) == "dead_letter"
    error = scalar(seeded, "SELECT last_error FROM tellusonce_notification")
    assert error.startswith("Client.AccessDenied")
    assert rows(
        seeded,
        "SELECT status, error_type FROM exchange_message WHERE service_xroad_id LIKE "
        "'%/life-events'",
    ) == [(403, "Client.AccessDenied")]
    with seeded.unit_of_work() as session:
        page = tellusonce.list_dead_letters(session)
    assert [item.id for item in page.items] == [notification]


def test_sending_to_a_service_that_is_not_an_agencys_own_is_refused(
    seeded: Database, tmp_path: Path
) -> None:
    registry = f"GOV/{organisation('population-register').member_code}/population/person"

    async def send(service: str, transport: httpx.AsyncBaseTransport) -> None:
        async with httpx.AsyncClient(transport=transport) as http:
            await send_to_service(
                seeded, http, client=TUO, service=service, purpose="tell-us-once", body={}
            )

    with pytest.raises(LocalCallRefused) as refused:
        asyncio.run(send(registry, httpx.MockTransport(lambda r: httpx.Response(200))))
    assert refused.value.error_type == "Server.ServerProxy.UnknownService"

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow")

    with pytest.raises(ProviderUnreachable) as timed_out:
        asyncio.run(send(PENSION_SERVICE, httpx.MockTransport(unreachable)))
    assert timed_out.value.error_type == "Server.ServerProxy.ServiceTimeout"
    assert rows(
        seeded,
        "SELECT error_type FROM exchange_message WHERE client_xroad_id LIKE '%/tell-us-once' "
        "ORDER BY id",
    ) == [("Server.ServerProxy.UnknownService",), ("Server.ServerProxy.ServiceTimeout",)]


# --- worker loops ----------------------------------------------------------------------------


def test_loop_names_are_checked() -> None:
    loops = LoopRegistry()
    with pytest.raises(ValueError, match="loop name"):

        @loop("Not A Name", into=loops)
        async def bad(*_: Any) -> None:  # pragma: no cover
            return None

    assert len(loops) == 0


def test_a_last_attempt_that_never_reported_back_is_dead_lettered(seeded: Database) -> None:
    _one_pending(seeded)
    with seeded.unit_of_work() as session:
        (claimed,) = tellusonce.claim(
            session, owner="gone", lease_seconds=0.01, max_attempts=1
        ).deliveries
    assert claimed.attempt == 1
    with seeded.unit_of_work() as session:  # still leased: nobody else takes it
        assert (
            tellusonce.claim(session, owner="other", lease_seconds=5, max_attempts=1).deliveries
            == []
        )
    time.sleep(0.05)  # the worker died; its lease runs out
    with seeded.unit_of_work() as session:
        assert (
            tellusonce.claim(session, owner="other", lease_seconds=5, max_attempts=1).deliveries
            == []
        )
    status, error = rows(seeded, "SELECT status, last_error FROM tellusonce_notification")[0]
    assert status == "dead_letter"
    assert "no answer after the last attempt" in error
    assert scalar(seeded, "SELECT status FROM tellusonce_life_event") == "completed"


def test_the_provider_transport_serves_local_systems_in_process_and_the_rest_over_the_network(
    tmp_path: Path,
) -> None:
    settings = tuo_settings(tmp_path / "var")
    with pytest.raises(ValueError, match="prefix"):
        mount_local_system("agency-systems/", agency_systems_app)
    seen: list[str] = []

    def network(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(204)

    transport = ProviderTransport(settings, network=httpx.MockTransport(network))
    headers = {"X-Road-Id": "m-9", "X-Road-Client": "JOINEDUP/GOV/1/tell-us-once"}
    base = settings.public_url.rstrip("/")

    async def run() -> tuple[int, int]:
        async with httpx.AsyncClient(transport=transport) as http:
            local = await http.post(
                f"{base}/agency-systems/passport-office/life-events",
                json=_notice(),
                headers=headers,
            )
            remote = await http.post("https://agency.example/notices", json=_notice())
        return local.status_code, remote.status_code

    assert asyncio.run(run()) == (200, 204)
    assert seen == ["https://agency.example/notices"]  # only the remote one left the process
    assert [s for s, _, _ in store(settings).handled()] == ["passport-office"]


def test_answers_that_come_in_together_are_recorded_in_one_transaction(tmp_path: Path) -> None:
    """Answers arriving while one is being recorded wait for one transaction together; if it
    fails, each is recorded alone, so a bad answer fails only its own delivery."""
    from contextlib import contextmanager

    from sqlalchemy import text

    from joinedup.tellusonce.dispatcher import _Answers

    database = Database(f"sqlite:///{tmp_path / 'answers.db'}")
    with database.unit_of_work() as session:
        session.execute(text("CREATE TABLE answer (n INTEGER NOT NULL)"))
    transactions: list[int] = []
    unit_of_work = database.unit_of_work

    @contextmanager
    def counted() -> Any:
        transactions.append(1)
        with unit_of_work() as session:
            yield session

    database.unit_of_work = counted  # type: ignore[method-assign]

    executed: list[int] = []

    def insert(n: int) -> Any:
        def write(session: Any) -> int:
            executed.append(n)
            if n == 13:
                raise ValueError("a bad answer")
            session.execute(text("INSERT INTO answer (n) VALUES (:n)"), {"n": n})
            return n

        return write

    async def scenario(numbers: list[int]) -> list[Any]:
        answers = _Answers(database, lambda session, life_event_ids: None)
        return await asyncio.gather(
            *(answers.record(insert(n), order=(n, n)) for n in numbers), return_exceptions=True
        )

    try:
        assert asyncio.run(scenario(list(range(9, -1, -1)))) == list(range(9, -1, -1))
        assert len(transactions) <= 2  # the first alone at most, the rest together
        # recorded in the order of their keys (life event, notification), whatever order they
        # came in: two workers' transactions lock the rows in the same order
        assert executed[-9:] == sorted(executed[-9:])
        transactions.clear()
        results = asyncio.run(scenario([20, 13, 21]))
        assert results[0] == 20
        assert results[2] == 21
        assert isinstance(results[1], ValueError)
        assert len(transactions) == 1 + 3  # together (rolled back), then each alone
        with database.reading() as session:
            stored = sorted(session.execute(text("SELECT n FROM answer")).scalars())
        assert stored == [*range(10), 20, 21]  # nothing of the failed batch twice, nor lost
    finally:
        database.dispose()


def test_a_life_event_is_settled_once_after_the_answers_of_its_agencies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answers of one death's agencies recorded together: the answers, then whether the
    death is settled (its last agency answered, its letter) looked at once for all of them,
    then the exchange's records of their messages (one batch) — all in one transaction.
    Alone (after a failed batch): each answer, settled, with its message's records; an answer
    that fails alone still leaves its message on record, in a transaction of its own."""
    from joinedup import exchange
    from joinedup.tellusonce.dispatcher import _Answers, _Failed, _Waiting

    database = Database(f"sqlite:///{tmp_path / 'settle.db'}")
    happened: list[tuple[str, Any]] = []
    sessions: list[Any] = []

    class Sent:  # what the dispatcher got back from exchange.send_unrecorded
        def __init__(self, number: int) -> None:
            self.message_id = f"m{number}"

        def write_records(self, session: Any) -> None:
            happened.append(("records", self.message_id))
            sessions.append(session)

    def write_sent_records(session: Any, sent: list[Any]) -> None:
        happened.append(("records", [one.message_id for one in sent]))
        sessions.append(session)

    monkeypatch.setattr(exchange, "write_sent_records", write_sent_records)

    def answer(life_event: int, bad: bool = False) -> Any:
        def write(session: Any) -> int:
            happened.append(("answer", life_event))
            sessions.append(session)
            if bad:
                raise ValueError("a bad answer")
            return life_event

        return write

    def settle(session: Any, life_events: list[int]) -> None:
        happened.append(("settle", life_events))
        sessions.append(session)

    loop = asyncio.new_event_loop()

    def waiting(life_event: int, number: int, bad: bool = False) -> Any:
        sent = Sent(number)
        return _Waiting((life_event, number), answer(life_event, bad), sent, loop.create_future())  # type: ignore[arg-type]

    answers = _Answers(database, settle)
    try:
        together = answers._together([waiting(1, 1), waiting(1, 2), waiting(2, 4), waiting(2, 5)])
        assert together == [1, 1, 2, 2]
        assert happened == [
            ("answer", 1), ("answer", 1), ("answer", 2), ("answer", 2),
            ("settle", [1, 2]),  # once, for both (their letters sent together)
            ("records", ["m1", "m2", "m4", "m5"]),  # last: the log's lock is held briefly
        ]  # fmt: skip
        assert all(session is sessions[0] for session in sessions)  # one transaction
        happened.clear()
        alone = answers._alone([waiting(7, 1), waiting(7, 2, bad=True), waiting(8, 3)])
        assert alone[0] == 7
        assert isinstance(alone[1], _Failed)
        assert alone[2] == 8
        assert happened == [
            ("answer", 7), ("settle", [7]), ("records", "m1"),
            ("answer", 7), ("records", "m2"),  # the answer failed: its records on their own
            ("answer", 8), ("settle", [8]), ("records", "m3"),
        ]  # fmt: skip
    finally:
        loop.close()
        database.dispose()


def _notification_queries(database: Database) -> tuple[list[str], Any]:
    """A counter of the statements that read notifications or life events."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        flat = " ".join(statement.split())
        if flat.startswith("SELECT") and (
            "FROM tellusonce_notification" in flat or "FROM tellusonce_life_event" in flat
        ):
            seen.append(flat)

    return seen, count


@pytest.mark.parametrize("together", [True, False])
def test_answers_recorded_together_read_their_rows_once(
    seeded_database: Database, together: bool
) -> None:
    """The answers to two deaths' notifications recorded in one transaction: read and locked
    together first (``lock_for_settling``), recording each reads nothing more — the same
    answers, events and letters as recording each with its own reads. A notification settled
    already is left as it is either way. SQLite and PostgreSQL (where the rows are locked)."""
    seeded = seeded_database
    from sqlalchemy import event as sqlalchemy_event

    from joinedup.tellusonce.schemas import AgencyAnswer
    from joinedup.tellusonce.service import complete_if_settled, lock_for_settling, record_answer

    for number, couple in enumerate(married_couples(seeded, 2)):
        record_death(seeded, couple.deceased, f"CRVS-TOGETHER-{number}")
    assert take_in_deaths(seeded) == 2
    pending = [
        (int(n), int(e))
        for n, e in rows(
            seeded, "SELECT id, life_event_id FROM tellusonce_notification ORDER BY id"
        )
    ]
    assert len(pending) >= 4
    settled_before = pending[0][0]
    with seeded.unit_of_work() as session:
        assert record_answer(
            session,
            notification_id=settled_before,
            answer=AgencyAnswer(outcome="noted", summary="Noted."),
            actor="test",
            complete=False,
        )
    answer = AgencyAnswer(outcome="pension-ended", summary="The pension ends.")
    seen, count = _notification_queries(seeded)
    with seeded.unit_of_work() as session:
        sqlalchemy_event.listen(seeded.engine, "before_cursor_execute", count)
        try:
            if together:
                lock_for_settling(session, [n for n, _ in pending])
            recorded = [
                record_answer(
                    session, notification_id=n, answer=answer, actor="test", complete=False
                )
                for n, _ in pending
            ]
            read_while_recording = len(seen)
            for life_event_id in sorted({e for _, e in pending}):
                complete_if_settled(session, life_event_id=life_event_id, actor="test")
        finally:
            sqlalchemy_event.remove(seeded.engine, "before_cursor_execute", count)
    assert recorded == [False] + [True] * (len(pending) - 1)
    if together:
        assert read_while_recording == 3  # the life events' ids, the events, the notifications
    else:
        assert read_while_recording >= 2 * (len(pending) - 1)
    statuses = rows(seeded, "SELECT outcome FROM tellusonce_notification ORDER BY id")
    assert [
        json.loads(o)["outcome"] if isinstance(o, str) else o["outcome"] for (o,) in statuses
    ] == [
        "noted",
        *["pension-ended"] * (len(pending) - 1),
    ]
    assert completed(seeded) == 2
    informed = scalar(
        seeded, "SELECT count(*) FROM outbox_event WHERE name = 'tellusonce.agency_informed.v1'"
    )
    assert informed == len(pending)


def test_a_messages_records_are_made_before_the_transaction_that_writes_them(
    seeded: Database, tmp_path: Path
) -> None:
    """The dispatcher makes an answered message's records (the members' keys and the
    provider's name read, the signed log record and the data-usage rows built) in a
    transaction that only reads, before the one recording the answer: that transaction
    (on SQLite, the one writer's turn) reads no member and no key, and writes the same
    records — the message on record once, the deceased's data usage with its purpose and
    the provider's name. The name comes from the exchange's directory snapshot: no query
    reads a member's name by its id, before the turn or in it."""
    from sqlalchemy import event as sqlalchemy_event

    from joinedup.tellusonce.dispatcher import _Answers

    _one_pending(seeded)
    deceased = scalar(seeded, "SELECT subject_code FROM tellusonce_life_event")
    settings = tuo_settings(tmp_path / "var")
    writing: list[str] = []
    everything: list[str] = []
    inside = [False]
    together = _Answers._together

    def watched(self: Any, batch: Any) -> Any:
        inside[0] = True
        try:
            return together(self, batch)
        finally:
            inside[0] = False

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        everything.append(" ".join(statement.split()))
        if inside[0]:
            writing.append(" ".join(statement.split()))

    def everywhere(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        everything.append(" ".join(statement.split()))

    sqlalchemy_event.listen(seeded.engine, "before_cursor_execute", seen)
    sqlalchemy_event.listen(seeded.read_engine, "before_cursor_execute", everywhere)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_Answers, "_together", watched)
            acknowledged = httpx.Response(200, json={"outcome": "pension-ended", "summary": "x"})
            assert _round(settings, seeded, acknowledged) == "acknowledged"
    finally:
        sqlalchemy_event.remove(seeded.engine, "before_cursor_execute", seen)
        sqlalchemy_event.remove(seeded.read_engine, "before_cursor_execute", everywhere)
    assert any(s.startswith("INSERT INTO exchange_message") for s in writing)
    reads = [s for s in writing if s.startswith("SELECT")]
    assert not [s for s in reads if "FROM exchange_member" in s], reads
    by_id = [s for s in everything if s.startswith("SELECT exchange_member.name FROM")]
    assert not by_id
    assert rows(
        seeded,
        "SELECT count(*) FROM exchange_message WHERE service_xroad_id LIKE '%/life-events'",
    ) == [(1,)]
    assert rows(
        seeded,
        "SELECT u.subject_code, u.purpose, u.receiver_member_name = m.name "
        "FROM exchange_data_usage u JOIN exchange_member m "
        "ON m.member_class = u.receiver_member_class AND m.member_code = u.receiver_member_code "
        "WHERE u.service_xroad_id LIKE '%/life-events'",
    ) == [(deceased, tellusonce.PURPOSE, 1)]


def test_deaths_settled_together_send_their_letters_in_one_batch(
    seeded_database: Database,
) -> None:
    """Three deaths: two whose agencies have all answered are completed together — every
    next of kin's letter in one sending (one signed tree head for them all), the letters
    before the events that say the deaths are complete — and one with an agency still
    pending is left open. Completing again changes nothing; the third completes alone once
    its last agency answers, with the same letter it would have had."""
    seeded = seeded_database
    from joinedup.tellusonce.schemas import AgencyAnswer
    from joinedup.tellusonce.service import complete_settled, lock_for_settling, record_answer

    for number, couple in enumerate(married_couples(seeded, 3)):
        record_death(seeded, couple.deceased, f"CRVS-SETTLED-{number}")
    assert take_in_deaths(seeded) == 3
    by_event: dict[int, list[int]] = {}
    for n, e in rows(seeded, "SELECT id, life_event_id FROM tellusonce_notification ORDER BY id"):
        by_event.setdefault(int(e), []).append(int(n))
    first, second, third = sorted(by_event)
    left_pending = by_event[third][-1]
    answer = AgencyAnswer(outcome="pension-ended", summary="The pension ends.")
    answered = [n for ids in by_event.values() for n in ids if n != left_pending]
    heads_before = scalar(seeded, "SELECT count(*) FROM tlog_tree_head")
    outbox_before = scalar(seeded, "SELECT coalesce(max(id), 0) FROM outbox_event")
    with seeded.unit_of_work() as session:
        lock_for_settling(session, answered)
        for n in answered:
            record_answer(session, notification_id=n, answer=answer, actor="test", complete=False)
        done = complete_settled(session, life_event_ids=[first, second, third], actor="test")
    assert done == [first, second]
    assert scalar(seeded, "SELECT count(*) FROM tlog_tree_head") == heads_before + 1
    letters = rows(
        seeded,
        "SELECT regarding, count(*) FROM notify_letter WHERE regarding LIKE 'tell-us-once:%' "
        "GROUP BY regarding ORDER BY regarding",
    )
    assert [r for r, _ in letters] == sorted([f"tell-us-once:{first}", f"tell-us-once:{second}"])
    recipients = dict(
        rows(
            seeded,
            f"SELECT id, recipients FROM tellusonce_life_event WHERE id IN ({first}, {second})",
        )
    )
    assert [count for _, count in letters] == [
        len(json.loads(r) if isinstance(r, str) else r) for _, r in sorted(recipients.items())
    ]
    assert all(count >= 1 for _, count in letters)
    names = [
        name
        for (name,) in rows(
            seeded,
            f"SELECT name FROM outbox_event WHERE id > {int(outbox_before)} "
            "AND name IN ('notify.letter_sent.v1', 'tellusonce.life_event_completed.v1') "
            "ORDER BY id",
        )
    ]
    sent = sum(count for _, count in letters)
    assert names == ["notify.letter_sent.v1"] * sent + ["tellusonce.life_event_completed.v1"] * 2
    statuses = dict(
        rows(
            seeded,
            "SELECT id, status FROM tellusonce_life_event WHERE id IN "
            f"({first}, {second}, {third})",
        )
    )
    assert statuses == {first: "completed", second: "completed", third: "informing"}
    with seeded.unit_of_work() as session:  # again: nothing more
        assert complete_settled(session, life_event_ids=[first, second], actor="test") == []
    assert scalar(seeded, "SELECT count(*) FROM tlog_tree_head") == heads_before + 1
    with seeded.unit_of_work() as session:
        assert record_answer(
            session, notification_id=left_pending, answer=answer, actor="test", complete=True
        )
    assert completed(seeded) == 3
    third_letters = rows(
        seeded,
        f"SELECT subject FROM notify_letter WHERE regarding = 'tell-us-once:{third}'",
    )
    assert third_letters
