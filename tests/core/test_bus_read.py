"""The in-process bus reads for a consumer only the events it subscribed to (their payloads
are never decoded for the others), and how far it read, so it moves past the rest."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence

from sqlalchemy import select

from joinedup.core.bus import Outcome
from joinedup.core.bus.inprocess import (
    FLUSH_INTERVAL,
    READ_BATCH,
    InProcessBus,
    read_statement,
)
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.outbox import ConsumerCursor, OutboxEvent


def _published(database: Database, names: list[str]) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        session.add_all(
            OutboxEvent(
                event_id=uuid.uuid4(),
                name=name,
                payload={"n": seq},
                occurred_at=now,
                recorded_at=now,
                stream_seq=seq,
                published_at=now,
            )
            for seq, name in enumerate(names, start=1)
        )


def test_a_consumer_reads_only_its_events_and_how_far_it_read(database: Database) -> None:
    _published(database, ["a", "b", "b", "a", "c", "b"])
    bus = InProcessBus(database)

    events, last = bus._read(0, frozenset({"a"}))
    assert [(e.stream_seq, e.name, e.payload) for e in events] == [
        (1, "a", {"n": 1}),
        (4, "a", {"n": 4}),
    ]
    assert last == 6  # past the "b" and "c" it does not handle
    events, last = bus._read(4, frozenset({"a", "c"}))
    assert [(e.stream_seq, e.name) for e in events] == [(5, "c")]
    assert last == 6
    assert bus._read(0, frozenset({"z"})) == ([], 6)  # nothing of its own: moves past all
    assert bus._read(6, frozenset({"a"})) == ([], None)  # nothing new


def test_the_payloads_of_other_events_are_not_read(database: Database) -> None:
    _published(database, ["a", *["b"] * 10])
    with database.reading() as session:
        rows = session.execute(read_statement(0, frozenset({"a"}))).all()
    assert [(row.wanted, row.payload) for row in rows] == [(True, {"n": 1})] + [(False, None)] * 10
    assert len(rows) <= READ_BATCH


def _cursor(database: Database, consumer: str) -> int | None:
    with database.reading() as session:
        return session.execute(
            select(ConsumerCursor.position).where(ConsumerCursor.consumer == consumer)
        ).scalar()


def test_a_consumer_of_other_events_records_its_position_lazily(database: Database) -> None:
    """Under a stream of events it does not handle, a consumer writes where it stands at
    most every FLUSH_INTERVAL (not once per event: each write takes the write lock), and
    when the stream stops it records the head soon after."""
    bus = InProcessBus(database, poll_interval=5.0)
    writes: list[int] = []
    advance = bus._advance

    def counted(consumer: str, owner: str, position: int, attempts: int) -> None:
        writes.append(position)
        advance(consumer, owner, position, attempts)

    bus._advance = counted  # type: ignore[method-assign]
    published = 40

    async def scenario() -> None:
        stop = asyncio.Event()

        async def never(deliveries: Sequence[tuple[Delivered, int]]) -> list[Outcome]:
            raise AssertionError("it handles no event of the stream")

        task = asyncio.create_task(bus.consume_batches("lazy", ["a"], never, stop, batch_size=10))
        await asyncio.sleep(0.3)  # leased, at the start
        for seq in range(1, published + 1):
            await asyncio.to_thread(_publish_one, database, seq, "b")
            bus.published()
            await asyncio.sleep(0.02)
        deadline = time.monotonic() + FLUSH_INTERVAL + 1.5
        while _cursor(database, "lazy") != published and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        bus.published()
        await task

    asyncio.run(scenario())
    assert _cursor(database, "lazy") == published  # the head, recorded without new events
    during = [p for p in writes if 0 < p < published]
    assert len(during) <= published * 0.02 / FLUSH_INTERVAL + 3, writes


def _publish_one(database: Database, seq: int, name: str) -> None:
    now = utcnow()
    with database.unit_of_work() as session:
        session.add(
            OutboxEvent(
                event_id=uuid.uuid4(),
                name=name,
                payload={"n": seq},
                occurred_at=now,
                recorded_at=now,
                stream_seq=seq,
                published_at=now,
            )
        )
