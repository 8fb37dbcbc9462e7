"""Tell Us Once piece by piece: subscriptions and their bad input, taking a death in, the
agencies' systems, and how the dispatcher reads each kind of answer."""

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
    NATIONAL,
    completed,
    letters_to,
    married_couples,
    record_death,
    rows,
    scalar,
    store,
    take_in_deaths,
    tuo_settings,
)

import joinedup.demo.handlers  # noqa: F401 (the agencies' systems, in-process)
from joinedup import notify, tellusonce
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.errors import Conflict, NotFound, ValidationFailed
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

SIB = organisation("social-insurance")
PENSION_SERVICE = f"GOV/{SIB.member_code}/benefits/life-events"
TUO = f"GOV/{organisation('digital-office').member_code}/tell-us-once"


# --- subscriptions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"life_event": "birthday"}, "lifeEvent"),
        ({"scope": "galaxy"}, "scope"),
        ({"service": "not/a/service"}, "service"),
        ({"service": f"GOV/{SIB.member_code}/benefits/no-such-service"}, "service"),
        ({"service": f"GOV/{organisation('population-register').member_code}/population/person"},
         "service"),  # a registry's service, not an agency's own
        ({"scope": "residents"}, "scope"),  # a national agency has no municipality
    ],
)  # fmt: skip
def test_a_bad_subscription_is_refused_naming_the_field(
    seeded: Database, changes: dict[str, str], field: str
) -> None:
    values: dict[str, Any] = {"life_event": "marriage", "service": PENSION_SERVICE}
    values.update(changes)
    before = scalar(seeded, "SELECT count(*) FROM tellusonce_subscription")
    with pytest.raises(ValidationFailed) as refused, seeded.unit_of_work() as session:
        tellusonce.subscribe_agency(session, actor="test", **values)
    assert refused.value.extensions["errors"][0]["field"] == field
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_subscription") == before


def test_an_agency_subscribes_once_ends_and_subscribes_again(seeded: Database) -> None:
    with seeded.unit_of_work() as session:
        record = tellusonce.subscribe_agency(
            session, life_event="marriage", service=PENSION_SERVICE, actor="test"
        )
    assert record.service == PENSION_SERVICE
    assert record.member_name == SIB.name
    with pytest.raises(Conflict), seeded.unit_of_work() as session:
        tellusonce.subscribe_agency(
            session, life_event="marriage", service=PENSION_SERVICE, actor="test"
        )
    with seeded.unit_of_work() as session:
        ended = tellusonce.end_subscription(session, subscription_id=record.id, actor="test")
    assert not ended.active
    with pytest.raises(Conflict), seeded.unit_of_work() as session:
        tellusonce.end_subscription(session, subscription_id=record.id, actor="test")
    with pytest.raises(NotFound), seeded.unit_of_work() as session:
        tellusonce.end_subscription(session, subscription_id=10**6, actor="test")
    with seeded.unit_of_work() as session:
        again = tellusonce.subscribe_agency(
            session, life_event="marriage", service=PENSION_SERVICE, actor="test"
        )
        assert again.id == record.id
        assert again.active
        deaths = tellusonce.list_subscriptions(session, life_event="death")
    # the demo: four national agencies for every death, each municipality for its residents
    assert sum(s.scope == "all" for s in deaths) == 4
    assert {s.scope for s in deaths} == {"all", "residents"}


# --- taking a death in ---------------------------------------------------------------------


def test_a_death_event_of_an_unknown_person_writes_nothing(seeded: Database) -> None:
    with seeded.unit_of_work() as session:
        found = tellusonce.receive_death(
            session,
            source_event_id=uuid.uuid4(),
            person_ref=10**9,
            date_of_death=today(),
            actor="test",
        )
    assert found is None
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 0


def test_the_same_event_twice_is_taken_in_once(seeded: Database) -> None:
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-UNIT-1")
    event_id, payload = rows(
        seeded,
        "SELECT event_id, payload FROM outbox_event WHERE name = 'population.death_registered.v1'",
    )[0]
    payload = json.loads(payload) if isinstance(payload, str) else payload
    for expected in (True, False):  # even without the consumer's inbox
        with seeded.unit_of_work() as session:
            found = tellusonce.receive_death(
                session,
                source_event_id=uuid.UUID(str(event_id)),
                person_ref=payload["person_id"],
                date_of_death=today(),
                actor="test",
            )
        assert (found is not None) is expected
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_life_event") == 1
    assert scalar(seeded, "SELECT count(*) FROM tellusonce_notification") == 5


def test_without_subscribers_the_next_of_kin_still_get_a_letter_in_their_language(
    seeded: Database,
) -> None:
    couple = married_couples(seeded)[0]
    with seeded.unit_of_work() as session:
        for subscription in tellusonce.list_subscriptions(session):
            tellusonce.end_subscription(session, subscription_id=subscription.id, actor="test")
        notify.set_delivery_preference(
            session, person_code=couple.spouse, locale="et", actor="test"
        )
    record_death(seeded, couple.deceased, "CRVS-UNIT-2")
    assert take_in_deaths(seeded) == 1
    assert scalar(seeded, "SELECT status FROM tellusonce_life_event") == "completed"
    (letter,) = letters_to(seeded, couple.spouse)
    paragraphs = letter[1] if isinstance(letter[1], list) else json.loads(letter[1])
    assert letter[0].startswith("Teavitasime riigiasutusi")
    assert "Teisi asutusi ei olnud vaja teavitada." in paragraphs


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
            due = tellusonce.claim_due(session, owner="test", lease_seconds=1, max_attempts=3)
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
        (claimed,) = tellusonce.claim_due(session, owner="gone", lease_seconds=0.01, max_attempts=1)
    assert claimed.attempt == 1
    with seeded.unit_of_work() as session:  # still leased: nobody else takes it
        assert tellusonce.claim_due(session, owner="other", lease_seconds=5, max_attempts=1) == []
    time.sleep(0.05)  # the worker died; its lease runs out
    with seeded.unit_of_work() as session:
        assert tellusonce.claim_due(session, owner="other", lease_seconds=5, max_attempts=1) == []
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


def test_a_slow_agency_does_not_hold_up_the_others(seeded: Database, tmp_path: Path) -> None:
    """The dispatcher keeps ``concurrency`` deliveries in flight and claims the next as soon
    as one is settled: while one agency takes its time, the others are informed (a round
    of two waited for its slowest, so one agency in four was informed meanwhile)."""
    couple = married_couples(seeded)[0]
    record_death(seeded, couple.deceased, "CRVS-UNIT-SLOW")
    assert take_in_deaths(seeded) == 1
    total = int(scalar(seeded, "SELECT count(*) FROM tellusonce_notification"))
    assert total >= 3
    settings = tuo_settings(tmp_path / "var", tell_us_once_retry_delay=60)
    calls: list[str] = []

    async def agency(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if len(calls) == 1:
            await asyncio.sleep(2.0)  # the first agency called is slow to answer
        return httpx.Response(200, json={"outcome": "noted", "summary": "Noted."})

    def acknowledged() -> int:
        return int(
            scalar(seeded, "SELECT count(*) FROM tellusonce_notification "
                   "WHERE status = 'acknowledged'")
        )  # fmt: skip

    async def run() -> tuple[int, int]:
        stop = asyncio.Event()
        async with httpx.AsyncClient(transport=httpx.MockTransport(agency)) as http:
            dispatcher = Dispatcher(settings, seeded, http=http, concurrency=2, poll_interval=0.05)
            task = asyncio.create_task(dispatcher.run(stop))
            deadline = time.monotonic() + 1.6
            while time.monotonic() < deadline and acknowledged() < total - 1:
                await asyncio.sleep(0.05)
            meanwhile = acknowledged()
            stop.set()
            await task  # the slow delivery in flight is finished, not dropped
            return meanwhile, acknowledged()

    meanwhile, after = asyncio.run(run())
    assert meanwhile == total - 1  # every other agency, while the slow one was still answering
    assert after == total


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
        answers = _Answers(database)
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


# --- in flight per agency --------------------------------------------------------------------


def _leased_per_agency(database: Database) -> dict[str, int]:
    return dict(
        rows(
            database,
            "SELECT s.member_code, count(*) FROM tellusonce_notification n "
            "JOIN tellusonce_subscription s ON s.id = n.subscription_id "
            "WHERE n.status = 'pending' AND n.lease_owner IS NOT NULL GROUP BY s.member_code",
        )
    )


def test_no_agency_gets_more_than_its_share_in_flight_across_workers(
    seeded_database: Database,
) -> None:
    """Three deaths, at most two notifications in flight per agency: the first worker leases
    two for each national agency, a second worker gets none of theirs (both leases count, not
    only its own), and when one is answered exactly one more of that agency is claimed."""
    database = seeded_database
    for number, couple in enumerate(married_couples(database, 3)):
        record_death(database, couple.deceased, f"CRVS-UNIT-SHARE-{number}")
    assert take_in_deaths(database) == 3
    national = {organisation(key).member_code for key in NATIONAL}

    def claim(owner: str) -> tellusonce.Claim:
        with database.unit_of_work() as session:
            return tellusonce.claim(
                session, owner=owner, lease_seconds=60, max_attempts=6, limit=100, per_agency=2
            )

    first = claim("worker-1")
    assert first.held_back  # the third of each national agency waits
    leased = _leased_per_agency(database)
    assert {code: leased[code] for code in national} == dict.fromkeys(national, 2)
    assert max(leased.values()) <= 2
    assert len(first.deliveries) == sum(leased.values())
    # oldest first within an agency: the first two deaths' notifications
    second = claim("worker-2")
    assert [d.member_code for d in second.deliveries if d.member_code in national] == []
    assert max(_leased_per_agency(database).values()) <= 2
    answered = next(d for d in first.deliveries if d.member_code == SIB.member_code)
    with database.unit_of_work() as session:
        assert tellusonce.record_answer(
            session,
            notification_id=answered.notification_id,
            answer=tellusonce.AgencyAnswer(outcome="noted", summary="Noted."),
            actor="test",
        )
    third = claim("worker-3")
    assert [d.member_code for d in third.deliveries if d.member_code in national] == [
        SIB.member_code
    ]
    assert _leased_per_agency(database)[SIB.member_code] == 2
    # without a limit per agency everything due is claimed (the leases above still hold)
    with database.unit_of_work() as session:
        rest = tellusonce.claim_due(session, owner="worker-4", lease_seconds=60, max_attempts=6)
    assert {d.member_code for d in rest} <= national
    assert (
        sum(_leased_per_agency(database).values())
        == int(scalar(database, "SELECT count(*) FROM tellusonce_notification")) - 1
    )


def test_a_limit_per_agency_below_one_is_refused(seeded: Database) -> None:
    with pytest.raises(ValueError, match="per_agency"), seeded.unit_of_work() as session:
        tellusonce.claim(session, owner="w", lease_seconds=1, max_attempts=1, per_agency=0)
    with pytest.raises(ValidationError, match="tell_us_once_per_agency"):
        Settings(tell_us_once_per_agency=0)


def test_the_dispatcher_keeps_each_agency_within_its_share_while_the_others_go_on(
    seeded: Database, tmp_path: Path
) -> None:
    """Concurrency 8, one in flight per agency: an agency's system never has two calls at
    once, several agencies are called at the same time, and every agency is informed of
    every death (an agency's next notification is claimed as soon as its last is answered,
    not at the next poll)."""
    for number, couple in enumerate(married_couples(seeded, 3)):
        record_death(seeded, couple.deceased, f"CRVS-UNIT-ONE-EACH-{number}")
    assert take_in_deaths(seeded) == 3
    total = int(scalar(seeded, "SELECT count(*) FROM tellusonce_notification"))
    settings = tuo_settings(tmp_path / "var", tell_us_once_per_agency=1)
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}
    together: list[int] = []

    async def agency(request: httpx.Request) -> httpx.Response:
        member = request.headers["X-Road-Service"].split("/")[2]
        in_flight[member] = in_flight.get(member, 0) + 1
        most[member] = max(most.get(member, 0), in_flight[member])
        together.append(sum(in_flight.values()))
        await asyncio.sleep(0.1)
        in_flight[member] -= 1
        return httpx.Response(200, json={"outcome": "noted", "summary": "Noted."})

    async def run() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(transport=httpx.MockTransport(agency)) as http:
            # a poll far away: claims after the first come from answers, not from polling
            dispatcher = Dispatcher(settings, seeded, http=http, concurrency=8, poll_interval=30)
            task = asyncio.create_task(dispatcher.run(stop))
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and completed(seeded) < 3:
                await asyncio.sleep(0.05)
            stop.set()
            await task

    asyncio.run(run())
    assert completed(seeded) == 3
    assert (
        int(
            scalar(
                seeded, "SELECT count(*) FROM tellusonce_notification WHERE status = 'acknowledged'"
            )
        )
        == total
    )
    assert set(most.values()) == {1}
    assert max(together) > 1


def test_a_slow_agency_at_its_limit_does_not_hold_up_new_work_for_the_others(
    seeded: Database, tmp_path: Path
) -> None:
    """One in flight per agency, one agency answering in 4 s: a death taken in meanwhile is
    sent to the agencies with room at the next poll, not when the slow call ends (a claim that
    left notifications for want of room used to switch the poll off)."""
    couples = married_couples(seeded, 3)
    for number, couple in enumerate(couples[:2]):
        record_death(seeded, couple.deceased, f"CRVS-UNIT-HOL-{number}")
    assert take_in_deaths(seeded) == 2
    settings = tuo_settings(tmp_path / "var", tell_us_once_per_agency=1)
    calls: list[tuple[float, str]] = []

    async def agency(request: httpx.Request) -> httpx.Response:
        member = request.headers["X-Road-Service"].split("/")[2]
        calls.append((time.monotonic(), member))
        await asyncio.sleep(4.0 if member == SIB.member_code else 0.02)
        return httpx.Response(200, json={"outcome": "noted", "summary": "Noted."})

    async def run() -> float | None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(transport=httpx.MockTransport(agency)) as http:
            dispatcher = Dispatcher(settings, seeded, http=http, concurrency=8, poll_interval=0.2)
            task = asyncio.create_task(dispatcher.run(stop))
            await asyncio.sleep(0.8)  # the others are done with deaths 1-2, SIB is busy
            record_death(seeded, couples[2].deceased, "CRVS-UNIT-HOL-2")
            await asyncio.to_thread(take_in_deaths, seeded)
            taken_in = time.monotonic()
            delay = None
            while time.monotonic() < taken_in + 10:
                later = [t for t, m in calls if t > taken_in and m != SIB.member_code]
                if later:
                    delay = later[0] - taken_in
                    break
                await asyncio.sleep(0.02)
            stop.set()
            await task
            return delay

    delay = asyncio.run(run())
    assert delay is not None
    assert delay < 1.5  # a poll or two, not the slow agency's 4 s
