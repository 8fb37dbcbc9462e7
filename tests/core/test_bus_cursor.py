"""The in-process bus records a consumer's position in a write transaction of its own: while
events keep coming, at most once every ``FLUSH_INTERVAL`` (not once per batch handled), and
as soon as the stream runs dry."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

import pytest
from bus_harness import published
from sqlalchemy import select

from joinedup.core.bus import HANDLED, Outcome, inprocess
from joinedup.core.bus.inprocess import InProcessBus
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.outbox import ConsumerCursor


def _position(database: Database) -> int | None:
    with database.reading() as session:
        return session.scalar(select(ConsumerCursor.position).where(ConsumerCursor.consumer == "c"))


@pytest.mark.parametrize("name", ["a", "other"], ids=["handled", "not-handled"])
def test_a_busy_consumer_records_its_position_per_interval_not_per_batch(
    database: Database, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Forty publications in quick succession, each handled as a batch of its own (or moved
    past, for a consumer of other events): the position is written a few times, not forty,
    and it is the head once the stream runs dry."""
    monkeypatch.setattr(inprocess, "FLUSH_INTERVAL", 0.3)
    bus = InProcessBus(database, poll_interval=0.05)
    writes: list[int] = []
    advance = bus._advance

    def counted(consumer: str, owner: str, position: int, attempts: int) -> None:
        writes.append(position)
        advance(consumer, owner, position, attempts)

    bus._advance = counted  # type: ignore[method-assign]
    handled: list[int] = []
    batches = 40

    async def handler(deliveries: Sequence[tuple[Delivered, int]]) -> list[Outcome]:
        handled.extend(d.stream_seq for d, _ in deliveries)
        return [HANDLED for _ in deliveries]

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(bus.consume_batches("c", ["a"], handler, stop, batch_size=10))
        await asyncio.sleep(0.2)  # (the lease taken, the empty stream seen)
        started = time.monotonic()
        for seq in range(1, batches + 1):
            await asyncio.to_thread(published, database, [name], seq)
            bus.published()
            await asyncio.sleep(0.01)
        took = time.monotonic() - started
        deadline = time.monotonic() + 5
        while _position(database) != batches and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        stop.set()
        bus.published()
        await task
        # one write when the empty stream was first seen, one at the end, and one per
        # interval between (a write per publication without the interval)
        assert len(writes) <= 3 + took / 0.3, (writes, took)

    asyncio.run(scenario())
    assert handled == (list(range(1, batches + 1)) if name == "a" else [])
    assert _position(database) == batches
    assert writes[-1] == batches
