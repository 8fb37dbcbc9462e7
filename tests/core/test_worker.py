"""Workers: real processes killed mid-stream lose nothing and apply nothing twice.

The kill tests run ``worker_process.py`` (the relay and/or the consumer ``kill.effects``)
against the test database and bus, SIGKILL it at a known point, start it again, and count
the effects: exactly one per event.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from bus_harness import (
    Stack,
    ThingHappened,
    WorkerProcess,
    bus_url_fixture,  # noqa: F401 (fixture)
    effect_ns,
    effects_fixture,  # noqa: F401 (fixture)
    open_stack,
    poll_until,
    registry_of,
    stack_fixture,  # noqa: F401 (fixture)
    wait_until,
)
from sqlalchemy import text

from joinedup.core import sqlite as sqlite_module
from joinedup.core.bus.inprocess import InProcessBus
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.events import emit_many
from joinedup.core.handling import EventHandling
from joinedup.core.outbox import ConsumerCursor
from joinedup.core.relay import Relay
from joinedup.core.settings import Settings
from joinedup.core.worker import EmbeddedWorkers, bus_status, run_worker

EVENTS = 300


def assert_each_applied_once(stack: Stack, event_ids: list[uuid.UUID]) -> None:
    applied = Counter(row.event_id for row in stack.effects())
    repeated = {event_id: n for event_id, n in applied.items() if n > 1}
    assert not repeated, f"{len(repeated)} events applied more than once"
    missing = {str(event_id) for event_id in event_ids} - set(applied)
    assert not missing, f"{len(missing)} events never applied"
    assert len(applied) == len(event_ids)


@pytest.mark.slow
def test_a_relay_killed_mid_stream_loses_and_repeats_nothing(stack: Stack, tmp_path: Path) -> None:
    event_ids = stack.emit([ThingHappened(n=i) for i in range(EVENTS)])
    relay = WorkerProcess(
        stack, tmp_path / "relay.log", "--role", "relay", "--pause-relay-at", "100"
    )
    try:
        first, last = map(int, relay.wait_for("relay-paused").split()[1:])
    finally:
        relay.kill()  # between publishing a batch and marking it published
    assert first <= 100 <= last
    assert stack.published_count() == first - 1  # the batch in flight was never marked
    if stack.uses_nats:
        assert stack.stream_messages() == last  # ...though it had reached the stream

    worker = WorkerProcess(stack, tmp_path / "worker.log", "--role", "both")
    try:
        worker.wait_for("started")
        poll_until(lambda: stack.effect_count() >= EVENTS, timeout=60)
    finally:
        assert worker.terminate() == 0  # SIGTERM: a graceful stop

    assert_each_applied_once(stack, event_ids)
    assert [seq for seq, _, _ in stack.stream_order()] == list(range(1, EVENTS + 1))
    if stack.uses_nats:
        assert stack.stream_messages() == EVENTS  # the republished batch was deduplicated


@pytest.mark.slow
def test_a_consumer_killed_mid_stream_loses_and_repeats_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    event_ids = stack.emit([ThingHappened(n=i) for i in range(EVENTS)])
    consumer = WorkerProcess(
        stack, tmp_path / "consumer.log", "--role", "both", "--pause-handler-at", "120"
    )
    try:
        consumer.wait_for("handler-paused 120")
    finally:
        consumer.kill()  # inside event 120's transaction
    assert effect_ns(stack.database) == list(range(120))  # in order; 120 rolled back

    # The kill took the relay down too (it may not have published every event yet), so the
    # restarted worker runs both, as a real worker process does.
    worker = WorkerProcess(stack, tmp_path / "worker.log", "--role", "both")
    try:
        worker.wait_for("started")
        poll_until(lambda: stack.effect_count() >= EVENTS, timeout=60)
    finally:
        assert worker.terminate() == 0

    assert_each_applied_once(stack, event_ids)


def test_competing_workers_apply_each_event_once(stack: Stack) -> None:
    """Two worker processes' worth of workers (own connections) on one consumer."""
    registry = registry_of({"work.shared": [ThingHappened.name]})
    event_ids = stack.emit([ThingHappened(n=i) for i in range(200)])
    other = Database(stack.settings.resolved_database_url, pool_size=4)

    async def scenario() -> None:
        workers = [
            EmbeddedWorkers(stack.settings, database, consumers_from=registry)
            for database in (stack.database, other)
        ]
        for each in workers:
            await each.start()
        try:
            await wait_until(lambda: stack.effect_count() >= 200, timeout=30)
        finally:
            for each in workers:
                await each.stop()

    try:
        asyncio.run(scenario())
    finally:
        other.dispose()
    assert_each_applied_once(stack, event_ids)


def test_run_worker_runs_until_asked_to_stop(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = registry_of({"work.main": [ThingHappened.name]})
    stack.emit([ThingHappened(n=i) for i in range(10)])
    # the process's writers' turns take the worker's setting (put back after the test)
    monkeypatch.setattr(sqlite_module, "_priority", sqlite_module._priority)
    settings = stack.settings.model_copy(update={"sqlite_writer_priority": 4})

    async def scenario() -> None:
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(settings, stop=stop, consumers_from=registry))
        await wait_until(lambda: stack.effect_count() == 10, timeout=20)
        assert not worker.done()
        stop.set()
        await asyncio.wait_for(worker, timeout=10)

    asyncio.run(scenario())
    with stack.database.reading() as session:
        status = bus_status(session, consumers=registry)
    assert status["relay"]["unpublished"] == 0
    assert status["stream"]["head"] == 10
    entry = status["consumers"]["work.main"]
    assert entry["handled_up_to"] == 10
    assert entry["dead_letters"] == 0
    if not stack.uses_nats:
        assert (entry["position"], entry["pending"], entry["lease_owner"]) == (10, 0, None)
    assert sqlite_module._priority.boost == 4


def test_workers_refuse_a_consumer_nobody_registered(stack: Stack) -> None:
    registry = registry_of({"work.known": [ThingHappened.name]})
    workers = EmbeddedWorkers(
        stack.settings, stack.database, consumers=["work.unknown"], consumers_from=registry
    )
    with pytest.raises(ValueError, match=r"work\.unknown"):
        asyncio.run(workers.start())


def test_one_process_at_a_time_consumes_on_the_embedded_bus(effects: Database) -> None:
    """The cursor's lease: a second consumer waits, and takes over when the first stops."""
    registry = registry_of({"work.leased": [ThingHappened.name]})
    handling = EventHandling(effects, registry.get("work.leased"), max_attempts=3, retry_delay=0.05)
    names = {ThingHappened.name}

    def emit_and_relay(numbers: range) -> None:
        with effects.unit_of_work() as session:
            emit_many(session, [ThingHappened(n=n) for n in numbers])
        asyncio.run(Relay(effects, InProcessBus(effects)).relay_once())

    def lease_owner() -> str | None:
        with effects.reading() as session:
            cursor = session.get(ConsumerCursor, "work.leased")
            return None if cursor is None else cursor.lease_owner

    async def scenario() -> None:
        first_stop, second_stop = asyncio.Event(), asyncio.Event()
        first = asyncio.create_task(
            InProcessBus(effects, lease_seconds=5, poll_interval=0.05).consume(
                "work.leased", names, handling, first_stop
            )
        )
        await wait_until(lambda: len(effect_ns(effects)) == 5, timeout=10)
        holder = await asyncio.to_thread(lease_owner)
        second = asyncio.create_task(
            InProcessBus(effects, lease_seconds=5, poll_interval=0.05).consume(
                "work.leased", names, handling, second_stop
            )
        )
        await asyncio.sleep(0.3)
        assert await asyncio.to_thread(lease_owner) == holder  # the second one waits
        first_stop.set()
        await first  # releases the lease on its way out
        await asyncio.to_thread(emit_and_relay, range(5, 8))
        await wait_until(lambda: len(effect_ns(effects)) == 8, timeout=15)
        assert await asyncio.to_thread(lease_owner) not in (None, holder)  # taken over
        second_stop.set()
        await second

    emit_and_relay(range(5))
    asyncio.run(scenario())
    assert effect_ns(effects) == list(range(8))


def test_a_consumer_whose_lease_was_taken_stops_until_it_gets_it_back(
    effects: Database,
) -> None:
    registry = registry_of({"work.hijacked": [ThingHappened.name]})
    handling = EventHandling(
        effects, registry.get("work.hijacked"), max_attempts=3, retry_delay=0.05
    )

    def emit_and_relay(numbers: range) -> None:
        with effects.unit_of_work() as session:
            emit_many(session, [ThingHappened(n=n) for n in numbers])
        asyncio.run(Relay(effects, InProcessBus(effects)).relay_once())

    def set_lease_owner(owner: str | None) -> None:
        with effects.unit_of_work() as session:
            cursor = session.get(ConsumerCursor, "work.hijacked")
            assert cursor is not None
            cursor.lease_owner = owner
            cursor.lease_expires_at = None if owner is None else utcnow() + timedelta(hours=1)

    async def scenario() -> None:
        stop = asyncio.Event()
        bus = InProcessBus(effects, lease_seconds=1.5, poll_interval=0.05)
        task = asyncio.create_task(
            bus.consume("work.hijacked", {ThingHappened.name}, handling, stop)
        )
        await wait_until(lambda: len(effect_ns(effects)) == 3, timeout=10)
        await asyncio.to_thread(set_lease_owner, "another-host:1:abcdef")
        await asyncio.sleep(1.0)  # it notices when it next renews the lease
        await asyncio.to_thread(emit_and_relay, range(3, 6))
        await asyncio.sleep(0.5)
        assert effect_ns(effects) == [0, 1, 2]  # it does not consume without the lease
        await asyncio.to_thread(set_lease_owner, None)
        await wait_until(lambda: len(effect_ns(effects)) == 6, timeout=10)
        stop.set()
        await task

    emit_and_relay(range(3))
    asyncio.run(scenario())
    assert effect_ns(effects) == list(range(6))


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
def test_workers_outlive_a_database_outage(database: Database, settings: Settings) -> None:
    """Connections killed, then the outbox unreachable for a while: the loops fail, start
    again on their own, and every event is still applied exactly once."""
    registry = registry_of({"work.resilient": [ThingHappened.name]})

    def sql(statement: str) -> None:
        with database.engine.begin() as conn:
            conn.execute(text(statement))

    def lease_owner() -> str | None:
        with database.reading() as session:
            cursor = session.get(ConsumerCursor, "work.resilient")
            return None if cursor is None else cursor.lease_owner

    with open_stack(settings, database, "inprocess://") as stack:
        first = stack.emit([ThingHappened(n=i) for i in range(10)])

        async def scenario() -> list[uuid.UUID]:
            workers = stack.workers(registry)
            await workers.start()
            try:
                await wait_until(lambda: stack.effect_count() == 10, timeout=20)
                before = await asyncio.to_thread(lease_owner)
                await asyncio.to_thread(
                    sql,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()",
                )
                await asyncio.to_thread(sql, "ALTER TABLE outbox_event RENAME TO outbox_away")
                # The consumer's loop fails and lets its lease go; its supervisor restarts it.
                await wait_until(lambda: lease_owner() != before, timeout=15)
                await asyncio.to_thread(sql, "ALTER TABLE outbox_away RENAME TO outbox_event")
                later = await asyncio.to_thread(
                    stack.emit, [ThingHappened(n=i) for i in range(10, 20)]
                )
                await wait_until(lambda: stack.effect_count() >= 20, timeout=30)
                after = await asyncio.to_thread(lease_owner)
                assert after not in (None, before)  # the consumer loop was started again
                return later
            finally:
                await workers.stop()

        second = asyncio.run(scenario())
        assert_each_applied_once(stack, first + second)
