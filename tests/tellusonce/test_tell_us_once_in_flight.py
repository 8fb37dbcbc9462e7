"""Tell Us Once with many notifications in flight: a slow agency does not hold up the others,
and no agency gets more than its share at once, across workers or in one dispatcher."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from tuo_support import (
    NATIONAL,
    SIB,
    completed,
    married_couples,
    record_death,
    rows,
    scalar,
    take_in_deaths,
    tuo_settings,
)

from joinedup import tellusonce
from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.demo import organisation
from joinedup.tellusonce.dispatcher import Dispatcher

# --- deliveries in flight --------------------------------------------------------------------


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
        rest = tellusonce.claim(
            session, owner="worker-4", lease_seconds=60, max_attempts=6
        ).deliveries
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


def test_a_death_taken_in_wakes_the_dispatcher_of_its_process(
    seeded: Database, tmp_path: Path
) -> None:
    """The dispatcher polls every 30 s here and has found nothing due: a death taken in by
    this process (its notifications committed) is sent to the agencies at once, not at the
    next poll; a commit that made nothing due (a death recorded) does not wake it."""
    couple = married_couples(seeded)[0]
    settings = tuo_settings(tmp_path / "var")
    claims = 0

    async def agency(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"outcome": "noted", "summary": "Noted."})

    async def run() -> float:
        nonlocal claims
        stop = asyncio.Event()
        async with httpx.AsyncClient(transport=httpx.MockTransport(agency)) as http:
            dispatcher = Dispatcher(settings, seeded, http=http, concurrency=8, poll_interval=30)
            claim = dispatcher._claim

            def counted(limit: int) -> tellusonce.Claim:
                nonlocal claims
                claims += 1
                return claim(limit)

            dispatcher._claim = counted  # type: ignore[method-assign]
            task = asyncio.create_task(dispatcher.run(stop))
            await asyncio.sleep(0.3)  # its first claim found nothing: it waits for its poll
            record_death(seeded, couple.deceased, "CRVS-UNIT-WAKE")
            await asyncio.sleep(0.3)
            assert claims == 1  # (the death's own commit made nothing due)
            started = time.monotonic()
            assert take_in_deaths(seeded) == 1
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and completed(seeded) < 1:
                await asyncio.sleep(0.02)
            took = time.monotonic() - started
            stop.set()
            await task
            return took

    took = asyncio.run(run())
    assert completed(seeded) == 1
    assert took < 5.0  # (the poll would have taken 30 s)
