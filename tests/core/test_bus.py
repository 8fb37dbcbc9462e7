"""One suite, every bus backend (in-process and NATS JetStream) on every database."""

from __future__ import annotations

import asyncio
import threading

import pytest
from bus_harness import (
    OtherThingHappened,
    Stack,
    ThingHappened,
    bus_url_fixture,  # noqa: F401 (fixture)
    record_effect,
    registry_of,
    stack_fixture,  # noqa: F401 (fixture)
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.bus import Bus, create_bus
from joinedup.core.bus.jetstream import JetStreamBus
from joinedup.core.consumers import consumer
from joinedup.core.events import Delivered
from joinedup.core.outbox import OutboxEvent
from joinedup.core.settings import Settings


def test_each_backend_is_a_bus_that_reports_its_health(stack: Stack) -> None:
    async def scenario() -> tuple[bool, bool]:
        bus = create_bus(stack.settings, stack.database)
        assert isinstance(bus, Bus)
        await bus.connect()
        await bus.connect()  # idempotent: the stream and its configuration already exist
        up = await bus.healthy()
        await bus.close()
        return up, await bus.healthy()

    assert asyncio.run(scenario()) == (True, False)


def test_an_unknown_bus_url_is_refused(settings: Settings) -> None:
    wrong = settings.model_copy(update={"bus_url": "kafka://localhost:9092"})
    with pytest.raises(ValueError, match="JOINEDUP_BUS_URL"):
        create_bus(wrong, None)  # type: ignore[arg-type]


def test_an_unreachable_nats_fails_at_start_up_instead_of_hanging() -> None:
    bus = JetStreamBus("nats://127.0.0.1:1", stream="UNREACHABLE", connect_deadline=1.0)
    with pytest.raises(ConnectionError, match="not reachable"):
        asyncio.run(bus.connect())


def test_every_consumer_gets_the_events_it_asked_for_in_stream_order(stack: Stack) -> None:
    batches = [
        [ThingHappened(n=i) for i in range(start, start + 8)]
        + [OtherThingHappened(n=100 + i) for i in range(start, start + 5)]
        for start in range(0, 40, 8)
    ]
    for batch in batches:  # five transactions, each mixing both kinds
        stack.emit(batch)
    subscriptions = {
        "bus.things": {ThingHappened.name},
        "bus.both": {ThingHappened.name, OtherThingHappened.name},
        "bus.others": {OtherThingHappened.name},
    }
    registry = registry_of(subscriptions)
    seen: list[Delivered] = []
    lock = threading.Lock()

    @consumer("bus.capture", events=[ThingHappened.name], into=registry)
    def capture(session: Session, event: Delivered) -> None:
        with lock:
            seen.append(event)

    stack.run_until(
        registry,
        lambda: (
            [len(stack.effects(name)) for name in subscriptions] == [40, 65, 25] and len(seen) == 40
        ),
    )

    order = stack.stream_order()
    assert [seq for seq, _, _ in order] == list(range(1, 66))
    for name, events in subscriptions.items():
        expected = [(seq, str(event_id)) for seq, event_id, kind in order if kind in events]
        got = [(row.stream_seq, row.event_id) for row in stack.effects(name)]
        assert got == expected, name  # each event once, in stream order, only those asked for

    with stack.database.reading() as session:
        rows = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.name == ThingHappened.name)
            .order_by(OutboxEvent.stream_seq)
        ).all()
        published = [
            Delivered(
                event_id=row.event_id,
                name=row.name,
                payload=row.payload,
                occurred_at=row.occurred_at,
                stream_seq=row.stream_seq or 0,
            )
            for row in rows
        ]
    assert seen == published  # what consumers receive is exactly what was emitted


def test_a_late_consumer_starts_from_the_beginning_of_the_stream(stack: Stack) -> None:
    stack.emit([ThingHappened(n=i) for i in range(10)])
    early = registry_of({"bus.early": [ThingHappened.name]})
    stack.run_until(early, lambda: len(stack.effects("bus.early")) == 10)
    stack.emit([ThingHappened(n=i) for i in range(10, 15)])

    late = registry_of({"bus.early": [ThingHappened.name]})
    consumer("bus.late", events=[ThingHappened.name], into=late)(record_effect("bus.late"))
    stack.run_until(
        late,
        lambda: len(stack.effects("bus.late")) == 15 and len(stack.effects("bus.early")) == 15,
    )
    assert [row.n for row in stack.effects("bus.late")] == list(range(15))
    assert [row.n for row in stack.effects("bus.early")] == list(range(15))
