"""Batch consumers: many events in one transaction, duplicates filtered, poison events alone."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter

import nats
import pytest
from bus_harness import (
    Stack,
    ThingHappened,
    bus_url_fixture,  # noqa: F401 (fixture)
    effect_ns,
    effects_fixture,  # noqa: F401 (fixture)
    record_effect,
    stack_fixture,  # noqa: F401 (fixture)
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.core.bus import DEAD_LETTERED, DUPLICATE, HANDLED, IGNORED, Verdict
from joinedup.core.bus.jetstream import durable_name
from joinedup.core.clock import utcnow
from joinedup.core.consumers import MAX_BATCH, Consumer, ConsumerRegistry, consumer
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.handling import EventHandling, list_dead_letters, replay_dead_letter
from joinedup.core.outbox import ConsumerCursor, DeadLetter, InboxEvent, OutboxEvent


def delivered(n: int, *, name: str = ThingHappened.name) -> Delivered:
    return Delivered(
        event_id=uuid.uuid4(), name=name, payload={"n": n}, occurred_at=utcnow(), stream_seq=n
    )


class BatchRecorder:
    """A batch handler writing one effect row per event; fails whenever ``poison`` is in a
    batch (after writing, so a failure must roll the whole batch back)."""

    def __init__(self, consumer_name: str, *, poison: int | None = None) -> None:
        self.write = record_effect(consumer_name)
        self.poison = poison
        self.batches: list[list[int]] = []
        self._lock = threading.Lock()

    def __call__(self, session: Session, events: list[Delivered]) -> None:
        ns = [event.payload["n"] for event in events]
        with self._lock:
            self.batches.append(ns)
        for event in events:
            self.write(session, event)
        if self.poison is not None and self.poison in ns:
            raise RuntimeError(f"cannot handle event {self.poison}")


def batch_consumer(
    name: str, recorder: BatchRecorder, *, batch: int = 50, into: ConsumerRegistry | None = None
) -> Consumer:
    registry = into if into is not None else ConsumerRegistry()
    consumer(name, events=[ThingHappened.name], batch=batch, into=registry)(recorder)
    return registry.get(name)


def handling(database: Database, target: Consumer) -> EventHandling:
    return EventHandling(database, target, max_attempts=3, retry_delay=0.05)


def inbox_count(database: Database) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


# -- registration ---------------------------------------------------------------------------


def test_a_batch_consumer_registers_with_its_batch_size() -> None:
    registry = ConsumerRegistry()

    @consumer(
        "proactive.birth", events=["population.birth_registered.v1"], batch=100, into=registry
    )
    def offer(session: Session, events: list[Delivered]) -> None:
        """Registered, and still an ordinary function."""

    [registered] = list(registry)
    assert registered.batch == 100
    assert registered.handler is offer


@pytest.mark.parametrize("size", [0, -1, MAX_BATCH + 1])
def test_a_batch_size_outside_what_the_bus_carries_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="batch must be between"):
        consumer("too.big", events=[ThingHappened.name], batch=size, into=ConsumerRegistry())(
            BatchRecorder("too.big")
        )


# -- one batch ------------------------------------------------------------------------------


def test_a_batch_is_one_transaction_with_one_inbox_row_per_event(effects: Database) -> None:
    database = effects
    recorder = BatchRecorder("batch")
    handle = handling(database, batch_consumer("batch", recorder))
    events = [delivered(n) for n in range(1, 11)]

    outcomes = asyncio.run(handle.handle_batch([(event, 1) for event in events]))

    assert outcomes == [HANDLED] * 10
    assert recorder.batches == [list(range(1, 11))]  # one call, in stream order
    assert effect_ns(database) == list(range(1, 11))
    assert inbox_count(database) == 10


def test_events_handled_before_are_removed_before_the_handler_sees_the_batch(
    effects: Database,
) -> None:
    database = effects
    recorder = BatchRecorder("dedup")
    handle = handling(database, batch_consumer("dedup", recorder))
    events = [delivered(n) for n in range(1, 7)]
    asyncio.run(handle.handle_batch([(event, 1) for event in events[:3]]))

    # Redelivered 1-3 with new 4-6, and 5 twice in the same batch.
    again = [*events, events[4]]
    outcomes = asyncio.run(handle.handle_batch([(event, 1) for event in again]))

    assert outcomes == [DUPLICATE] * 3 + [HANDLED] * 3 + [DUPLICATE]
    assert recorder.batches == [[1, 2, 3], [4, 5, 6]]
    assert effect_ns(database) == [1, 2, 3, 4, 5, 6]
    assert inbox_count(database) == 6

    # Nothing new at all: the handler is not called with an empty list.
    outcomes = asyncio.run(handle.handle_batch([(event, 2) for event in events]))
    assert outcomes == [DUPLICATE] * 6
    assert len(recorder.batches) == 2


def test_a_poison_event_fails_alone_and_the_rest_of_its_batch_is_handled(
    effects: Database,
) -> None:
    database = effects
    recorder = BatchRecorder("poisoned", poison=3)
    handle = handling(database, batch_consumer("poisoned", recorder))
    events = [delivered(n) for n in range(1, 6)]

    outcomes = asyncio.run(handle.handle_batch([(event, 1) for event in events]))

    assert [o.verdict for o in outcomes] == [
        Verdict.HANDLED,
        Verdict.HANDLED,
        Verdict.RETRY,
        Verdict.HANDLED,
        Verdict.HANDLED,
    ]
    # The batch first, rolled back; then one event at a time.
    assert recorder.batches == [[1, 2, 3, 4, 5], [1], [2], [3], [4], [5]]
    assert effect_ns(database) == [1, 2, 4, 5]
    assert inbox_count(database) == 4

    # Its last attempt parks it; the others are not touched again.
    outcome = asyncio.run(handle.handle_batch([(events[2], 3)]))
    assert outcome == [DEAD_LETTERED]
    with database.reading() as session:
        [letter] = list_dead_letters(session, consumer="poisoned").items
    assert (letter.event_id, letter.attempts) == (events[2].event_id, 3)
    assert effect_ns(database) == [1, 2, 4, 5]


def test_events_past_their_attempts_or_not_asked_for_are_settled_without_the_handler(
    effects: Database,
) -> None:
    database = effects
    recorder = BatchRecorder("mixed")
    handle = handling(database, batch_consumer("mixed", recorder))
    other = delivered(1, name="test.other_thing_happened.v1")
    late, fine_a, fine_b = delivered(2), delivered(3), delivered(4)

    outcomes = asyncio.run(handle.handle_batch([(other, 1), (late, 4), (fine_a, 1), (fine_b, 1)]))

    assert outcomes == [IGNORED, DEAD_LETTERED, HANDLED, HANDLED]
    assert recorder.batches == [[3, 4]]


def test_a_replayed_dead_letter_of_a_batch_consumer_runs_its_handler_on_one_event(
    effects: Database,
) -> None:
    database = effects
    recorder = BatchRecorder("replayed", poison=1)
    registry = ConsumerRegistry()
    target = batch_consumer("replayed", recorder, into=registry)
    handle = handling(database, target)
    event = delivered(1)
    with database.unit_of_work() as session:  # the dead letter's event is in the outbox
        session.add(
            OutboxEvent(
                event_id=event.event_id,
                name=event.name,
                payload=event.payload,
                occurred_at=event.occurred_at,
                recorded_at=event.occurred_at,
                stream_seq=1,
                published_at=event.occurred_at,
            )
        )
    assert asyncio.run(handle.handle_batch([(event, 3)])) == [DEAD_LETTERED]
    recorder.poison = None
    with database.reading() as session:
        [letter] = list_dead_letters(session).items
    with database.unit_of_work() as session:
        replay_dead_letter(
            session, dead_letter_id=letter.id, actor="operator:test", consumers=registry
        )
    assert recorder.batches[-1] == [1]
    assert effect_ns(database) == [1]
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == 1


# -- through the bus ------------------------------------------------------------------------


def test_a_batch_consumer_gets_every_event_once_in_batches(stack: Stack) -> None:
    recorder = BatchRecorder("bus.batch")
    registry = ConsumerRegistry()
    batch_consumer("bus.batch", recorder, batch=25, into=registry)
    stack.emit([ThingHappened(n=n) for n in range(1, 101)], per_transaction=100)

    stack.run_until(registry, lambda: len(stack.effects()) == 100)

    assert sorted(row.n for row in stack.effects()) == list(range(1, 101))
    assert all(len(batch) <= 25 for batch in recorder.batches)
    assert len(recorder.batches) < 100  # batched, not one by one
    if not stack.uses_nats:  # the embedded bus keeps stream order
        assert [row.n for row in stack.effects()] == list(range(1, 101))


def test_a_poison_event_on_the_bus_is_dead_lettered_alone(stack: Stack) -> None:
    recorder = BatchRecorder("bus.poison", poison=7)
    registry = ConsumerRegistry()
    batch_consumer("bus.poison", recorder, batch=20, into=registry)
    ids = stack.emit([ThingHappened(n=n) for n in range(1, 21)], per_transaction=20)

    def parked() -> bool:
        with stack.database.reading() as session:
            found = session.scalar(select(func.count()).select_from(DeadLetter))
        return found == 1 and len(stack.effects()) == 19

    stack.run_until(registry, parked)

    assert sorted(row.n for row in stack.effects()) == [n for n in range(1, 21) if n != 7]
    with stack.database.reading() as session:
        [letter] = list_dead_letters(session, consumer="bus.poison").items
    assert letter.event_id == ids[6]
    assert letter.attempts == stack.settings.bus_max_deliveries
    # Every attempt at event 7 after the first batch was made with event 7 alone.
    with_poison = [batch for batch in recorder.batches if 7 in batch]
    assert Counter(len(batch) > 1 for batch in with_poison)[True] <= 1
    assert [7] in with_poison
    assert inbox_count(stack.database) == 19


def _acknowledged_up_to(stack: Stack, name: str) -> int:
    """How far the bus counts the consumer's events as acknowledged, seen from outside."""
    if stack.uses_nats:

        async def info() -> int:
            nc = await nats.connect(stack.settings.bus_url)
            try:
                found = await nc.jetstream().consumer_info(
                    stack.settings.nats_stream, durable_name(name)
                )
                return int(found.ack_floor.stream_seq)
            finally:
                await nc.close()

        return asyncio.run(info())
    with stack.database.reading() as session:
        cursor = session.get(ConsumerCursor, name)
        return 0 if cursor is None else int(cursor.position)


def test_a_batch_is_acknowledged_only_after_its_transaction_committed(stack: Stack) -> None:
    # (last seq of the batch, acknowledged up to, inbox rows, batch size)
    seen: list[tuple[int, int, int, int]] = []

    def handle(session: Session, events: list[Delivered]) -> None:
        # inside the batch's open transaction: nothing of it is acknowledged or committed yet
        seen.append(
            (
                max(event.stream_seq for event in events),
                _acknowledged_up_to(stack, "bus.acked"),
                inbox_count(stack.database),
                len(events),
            )
        )
        for event in events:
            record_effect("bus.acked")(session, event)

    registry = ConsumerRegistry()
    consumer("bus.acked", events=[ThingHappened.name], batch=50, into=registry)(handle)
    stack.emit([ThingHappened(n=n) for n in range(1, 31)], per_transaction=30)
    stack.run_until(
        registry,
        lambda: len(stack.effects()) == 30 and _acknowledged_up_to(stack, "bus.acked") >= 30,
    )
    assert seen
    committed = 0
    for last_seq, acknowledged, inbox, size in seen:
        assert acknowledged < last_seq
        assert inbox == committed  # this batch's inbox rows are not committed yet
        committed += size
    assert inbox_count(stack.database) == 30
