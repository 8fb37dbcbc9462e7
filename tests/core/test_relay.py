"""The relay: committed events onto the bus, numbered in delivery order, never lost."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import nats
from bus_harness import (
    Stack,
    ThingHappened,
    bus_url_fixture,  # noqa: F401 (fixture)
    stack_fixture,  # noqa: F401 (fixture)
)
from sqlalchemy import select

from joinedup.core.bus import create_bus
from joinedup.core.db import Database
from joinedup.core.events import Delivered, emit_many
from joinedup.core.outbox import OutboxEvent
from joinedup.core.relay import Relay
from joinedup.core.worker import bus_status


def published_rows(database: Database) -> list[tuple[int, int | None, bool]]:
    """(id, stream_seq, published) of every outbox row, by id."""
    with database.reading() as session:
        rows = session.execute(
            select(OutboxEvent.id, OutboxEvent.stream_seq, OutboxEvent.published_at).order_by(
                OutboxEvent.id
            )
        ).all()
    return [(row.id, row.stream_seq, row.published_at is not None) for row in rows]


def test_the_relay_numbers_committed_events_in_batches(stack: Stack) -> None:
    stack.emit([ThingHappened(n=i) for i in range(25)])

    async def scenario() -> list[int]:
        bus = create_bus(stack.settings, stack.database)
        await bus.connect()
        try:
            relay = Relay(stack.database, bus, batch_size=10)
            return [await relay.relay_once() for _ in range(4)]
        finally:
            await bus.close()

    assert asyncio.run(scenario()) == [10, 10, 5, 0]
    rows = published_rows(stack.database)
    assert [seq for _, seq, _ in rows] == list(range(1, 26))  # id order, no gaps
    assert all(published for _, _, published in rows)
    if stack.uses_nats:
        assert stack.stream_messages() == 25


def test_a_failed_publish_leaves_the_batch_unpublished(stack: Stack) -> None:
    """On a bus that carries the events (JetStream), a publish that fails leaves the batch
    unpublished, and the next relay publishes it with the same numbers. The in-process bus
    carries none (its consumers read the outbox): the relay never calls its publish, and
    the commit that numbers the rows publishes them."""
    stack.emit([ThingHappened(n=i) for i in range(5)])
    calls: list[int] = []

    async def scenario() -> tuple[str | None, list[int]]:
        bus = create_bus(stack.settings, stack.database)
        await bus.connect()
        real_publish = bus.publish

        async def unreachable(events: Sequence[Delivered]) -> None:
            calls.append(len(events))
            raise ConnectionError("the bus is away")

        bus.publish = unreachable  # type: ignore[method-assign]
        relay = Relay(stack.database, bus)
        failure = None
        try:
            published = []
            try:
                published.append(await relay.relay_once())
            except ConnectionError as exc:
                failure = str(exc)
            bus.publish = real_publish  # type: ignore[method-assign]
            published.append(await relay.relay_once())
            return failure, published
        finally:
            await bus.close()

    failure, published = asyncio.run(scenario())
    if stack.uses_nats:
        assert failure == "the bus is away"
        assert calls == [5]
        assert published == [5]
    else:
        assert failure is None
        assert calls == []  # nothing to send: never called
        assert published == [5, 0]
    assert [seq for _, seq, _ in published_rows(stack.database)] == [1, 2, 3, 4, 5]


def test_two_relays_at_once_neither_lose_nor_double_publish(stack: Stack) -> None:
    """Two relays (own connections, like two worker processes) while use cases keep emitting."""
    transactions, per_transaction = 30, 10
    total = transactions * per_transaction

    def keep_emitting() -> None:
        for t in range(transactions):
            with stack.database.unit_of_work() as session:
                emit_many(session, [ThingHappened(n=t * 100 + i) for i in range(per_transaction)])

    second_database = Database(stack.settings.resolved_database_url, pool_size=2)

    async def scenario() -> None:
        buses = [create_bus(stack.settings, db) for db in (stack.database, second_database)]
        for bus in buses:
            await bus.connect()
        stop = asyncio.Event()
        relays = [
            Relay(db, bus, batch_size=7, poll_interval=0.01)
            for db, bus in zip((stack.database, second_database), buses, strict=True)
        ]
        tasks = [asyncio.create_task(relay.run(stop)) for relay in relays]
        emitter = threading.Thread(target=keep_emitting)
        emitter.start()
        try:
            await asyncio.to_thread(emitter.join)
            while await asyncio.to_thread(stack.published_count) < total:
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
            for bus in buses:
                await bus.close()

    try:
        asyncio.run(scenario())
    finally:
        second_database.dispose()

    order = stack.stream_order()
    assert [seq for seq, _, _ in order] == list(range(1, total + 1))  # each number once
    assert len({event_id for _, event_id, _ in order}) == total  # each event once
    if stack.uses_nats:
        # The stream holds every event once, in stream_seq order.
        assert asyncio.run(stream_contents(stack)) == [(seq, eid) for seq, eid, _ in order]


async def stream_contents(stack: Stack) -> list[tuple[int, object]]:
    nc = await nats.connect(stack.settings.bus_url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stack.settings.nats_stream)
        found = []
        for seq in range(1, info.state.messages + 1):
            message = await js.get_msg(stack.settings.nats_stream, seq)
            event = Delivered.from_json(message.data)
            found.append((event.stream_seq, event.event_id))
        return found
    finally:
        await nc.close()


def test_bus_status_shows_the_relays_lag(stack: Stack) -> None:
    stack.emit([ThingHappened(n=i) for i in range(3)])
    with stack.database.reading() as session:
        before = bus_status(session)
    assert before["relay"]["unpublished"] == 3
    assert before["relay"]["oldest_unpublished_age_s"] >= 0
    assert before["stream"]["head"] == 0

    async def relay_all() -> None:
        bus = create_bus(stack.settings, stack.database)
        await bus.connect()
        try:
            await Relay(stack.database, bus).relay_once()
        finally:
            await bus.close()

    asyncio.run(relay_all())
    with stack.database.reading() as session:
        after = bus_status(session)
    assert after["relay"] == {"unpublished": 0, "oldest_unpublished_age_s": None}
    assert after["stream"]["head"] == 3


def _published(database: Database) -> int:
    return sum(1 for _, _, published in published_rows(database) if published)


def test_the_relay_wakes_when_a_commit_emitted_events_not_at_its_next_poll(stack: Stack) -> None:
    """With a poll interval of a minute, only the after-commit hook can explain a publish
    within seconds; a rolled-back transaction wakes nobody."""

    async def scenario() -> tuple[float, int]:
        bus = create_bus(stack.settings, stack.database)
        await bus.connect()
        stop = asyncio.Event()
        relay = Relay(stack.database, bus, poll_interval=60.0)
        running = asyncio.create_task(relay.run(stop))
        try:
            await asyncio.sleep(0.3)  # the relay found nothing and waits for its poll

            def roll_back() -> None:
                try:
                    with stack.database.unit_of_work() as session:
                        emit_many(session, [ThingHappened(n=0)])
                        raise RuntimeError("changed my mind")
                except RuntimeError:
                    pass

            await asyncio.to_thread(roll_back)
            started = asyncio.get_running_loop().time()
            await asyncio.to_thread(stack.emit, [ThingHappened(n=1), ThingHappened(n=2)])
            while _published(stack.database) < 2:
                if asyncio.get_running_loop().time() - started > 10:
                    break
                await asyncio.sleep(0.02)
            return asyncio.get_running_loop().time() - started, _published(stack.database)
        finally:
            stop.set()
            await running
            await bus.close()

    took, published = asyncio.run(scenario())
    assert published == 2
    assert took < 5.0
    assert len(published_rows(stack.database)) == 2  # the rolled-back event never existed


def test_a_relay_that_does_not_wake_on_commit_waits_for_its_poll(stack: Stack) -> None:
    async def scenario() -> int:
        bus = create_bus(stack.settings, stack.database)
        await bus.connect()
        stop = asyncio.Event()
        relay = Relay(stack.database, bus, poll_interval=60.0, wake_on_commit=False)
        running = asyncio.create_task(relay.run(stop))
        try:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(stack.emit, [ThingHappened(n=1)])
            await asyncio.sleep(1.5)
            return _published(stack.database)
        finally:
            stop.set()
            await running
            await bus.close()

    assert asyncio.run(scenario()) == 0
