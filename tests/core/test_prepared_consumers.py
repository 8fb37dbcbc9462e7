"""Batch consumers that prepare (on SQLite): ``prepare`` reads and decides in a transaction
that refuses writes (holding no write lock), the delivery's write transaction keeps what must
be kept and applies the rest — or, when what was prepared no longer holds, the handler does it
all itself. On PostgreSQL the handler does it all, in one transaction."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from bus_harness import (
    ThingHappened,
    effect_ns,
    record_effect,
    scratch,
)
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from joinedup.core.bus import HANDLED
from joinedup.core.clock import utcnow
from joinedup.core.consumers import Consumer, ConsumerRegistry, consumer
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.handling import EventHandling, apply_event, apply_events
from joinedup.core.outbox import InboxEvent

NAME = "test.prepared"
#: The ``n`` a preparation's ``keep`` writes (what must be kept in any case: read records).
KEPT = 1000


def delivered(n: int) -> Delivered:
    return Delivered(
        event_id=uuid.uuid4(),
        name=ThingHappened.name,
        payload={"n": n},
        occurred_at=utcnow(),
        stream_seq=n,
    )


@dataclass
class Prepared:
    """Writes ``KEPT + n`` per event on keep and ``n`` per event on apply (if still fresh)."""

    events: list[Delivered]
    fresh: bool = True
    kept: int = 0
    abandoned: int = 0
    fail: bool = False

    def keep(self, session: Session) -> None:
        write = record_effect(NAME)
        for event in self.events:
            write(
                session,
                Delivered(**{**event.__dict__, "payload": {"n": KEPT + event.payload["n"]}}),
            )
        self.kept += 1

    def abandon(self) -> None:
        self.abandoned += 1

    def apply(self, session: Session) -> bool:
        if self.fail:
            raise RuntimeError("cannot apply")
        if not self.fresh:
            return False
        write = record_effect(NAME)
        for event in self.events:
            write(session, event)
        return True


@dataclass
class Preparer:
    """The consumer's first phase; ``meanwhile`` runs inside it (another transaction)."""

    fresh: bool = True
    fail: bool = False
    nothing: bool = False
    fail_to_apply: bool = False
    meanwhile: Callable[[], None] | None = None
    seen: list[list[int]] = field(default_factory=list)
    made: list[Prepared] = field(default_factory=list)

    def __call__(
        self, session: Session, events: list[Delivered], database: Database
    ) -> Prepared | None:
        self.seen.append([e.payload["n"] for e in events])
        session.scalar(select(func.count()).select_from(InboxEvent))  # it reads
        if self.meanwhile is not None:
            self.meanwhile()
        if self.fail:
            raise RuntimeError("cannot prepare")
        if self.nothing:
            return None
        prepared = Prepared(events, fresh=self.fresh, fail=self.fail_to_apply)
        self.made.append(prepared)
        return prepared


@dataclass
class Handler:
    """The batch handler: writes ``n`` per event (the one-transaction way)."""

    batches: list[list[int]] = field(default_factory=list)

    def __call__(self, session: Session, events: list[Delivered]) -> None:
        self.batches.append([e.payload["n"] for e in events])
        write = record_effect(NAME)
        for event in events:
            write(session, event)


def prepared_consumer(preparer: Preparer, handler: Handler) -> Consumer:
    registry = ConsumerRegistry()
    consumer(NAME, events=[ThingHappened.name], batch=10, prepare=preparer, into=registry)(handler)
    return registry.get(NAME)


@pytest.fixture(name="sqlite_effects")
def sqlite_effects_fixture(sqlite_database: Database) -> Database:
    """SQLite (where consumers prepare) with the scratch effects table."""
    scratch.create_all(sqlite_database.engine)
    return sqlite_database


def inboxed(database: Database) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def test_prepared_outside_the_write_lock_then_kept_and_applied(sqlite_effects: Database) -> None:
    """``prepare`` sees the new events; meanwhile another writer commits at once (the first
    phase holds no write lock); then keep and apply write, and the handler is not called."""
    committed = threading.Event()

    def other_writer() -> None:
        def write() -> None:
            with sqlite_effects.unit_of_work() as session:
                record_effect("other")(session, delivered(-1))
            committed.set()

        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=10)

    preparer, handler = Preparer(meanwhile=other_writer), Handler()
    target = prepared_consumer(preparer, handler)
    events = [delivered(n) for n in (1, 2, 3)]
    fresh = apply_events(sqlite_effects, target, events)
    assert committed.is_set()  # the other writer did not wait for this consumer
    assert fresh == {e.event_id for e in events}
    assert preparer.seen == [[1, 2, 3]]
    assert handler.batches == []
    assert sorted(effect_ns(sqlite_effects)) == [-1, 1, 2, 3, 1001, 1002, 1003]
    assert inboxed(sqlite_effects) == 3


def test_what_no_longer_holds_is_handled_by_the_handler_keeping_what_was_read(
    sqlite_effects: Database,
) -> None:
    preparer, handler = Preparer(fresh=False), Handler()
    events = [delivered(n) for n in (1, 2)]
    apply_events(sqlite_effects, prepared_consumer(preparer, handler), events)
    assert handler.batches == [[1, 2]]
    assert sorted(effect_ns(sqlite_effects)) == [1, 2, 1001, 1002]  # kept once, applied once
    assert inboxed(sqlite_effects) == 2


def test_an_event_handled_meanwhile_is_left_out_and_the_rest_handled_again(
    sqlite_effects: Database,
) -> None:
    """Another process handled event 1 between the phases: what was prepared for 1 and 2 is
    not applied (its reads are kept); the handler handles 2 alone."""
    events = [delivered(n) for n in (1, 2)]
    handler = Handler()
    other = prepared_consumer(Preparer(nothing=True), Handler())

    def handled_elsewhere() -> None:
        thread = threading.Thread(target=apply_events, args=(sqlite_effects, other, events[:1]))
        thread.start()
        thread.join(timeout=10)

    preparer = Preparer(meanwhile=handled_elsewhere)
    fresh = apply_events(sqlite_effects, prepared_consumer(preparer, handler), events)
    assert fresh == {events[1].event_id}
    assert handler.batches == [[2]]
    assert preparer.made[0].kept == 1
    assert sorted(effect_ns(sqlite_effects)) == [1, 2, 1001, 1002]
    assert inboxed(sqlite_effects) == 2


def test_events_all_handled_before_are_not_prepared(sqlite_effects: Database) -> None:
    preparer, handler = Preparer(), Handler()
    target = prepared_consumer(preparer, handler)
    events = [delivered(n) for n in (1, 2)]
    apply_events(sqlite_effects, target, events)
    assert apply_events(sqlite_effects, target, events) == set()
    assert preparer.seen == [[1, 2]]
    assert sorted(effect_ns(sqlite_effects)) == [1, 2, 1001, 1002]


@pytest.mark.parametrize("how", ["fails", "nothing"])
def test_a_failing_or_empty_preparation_leaves_it_all_to_the_handler(
    sqlite_effects: Database, how: str
) -> None:
    preparer, handler = Preparer(fail=how == "fails", nothing=how == "nothing"), Handler()
    events = [delivered(n) for n in (1, 2)]
    assert apply_events(sqlite_effects, prepared_consumer(preparer, handler), events) == {
        e.event_id for e in events
    }
    assert handler.batches == [[1, 2]]
    assert sorted(effect_ns(sqlite_effects)) == [1, 2]


def test_one_event_at_a_time_is_prepared_too(sqlite_effects: Database) -> None:
    """A delivery handled alone (no batch formed, or a failed batch's events one by one)."""
    preparer, handler = Preparer(), Handler()
    target = prepared_consumer(preparer, handler)
    event = delivered(7)
    assert apply_event(sqlite_effects, target, event) is True
    assert apply_event(sqlite_effects, target, event) is False
    outcome = asyncio.run(
        EventHandling(sqlite_effects, target, max_attempts=3, retry_delay=0.05)(delivered(8), 1)
    )
    assert outcome == HANDLED
    assert preparer.seen == [[7], [8]]
    assert handler.batches == []
    assert sorted(effect_ns(sqlite_effects)) == [7, 8, 1007, 1008]


@pytest.mark.postgres
def test_on_postgresql_the_handler_does_it_all_in_one_transaction(postgres_url: str) -> None:
    """PostgreSQL locks rows, not the database: nothing is gained by a first phase there."""
    database = Database(postgres_url, pool_size=2)
    scratch.create_all(database.engine)
    try:
        preparer, handler = Preparer(), Handler()
        events = [delivered(n) for n in (1, 2)]
        apply_events(database, prepared_consumer(preparer, handler), events)
        assert preparer.seen == []
        assert handler.batches == [[1, 2]]
        assert sorted(effect_ns(database)) == [1, 2]
    finally:
        scratch.drop_all(database.engine)
        with database.unit_of_work() as session:
            session.execute(delete(InboxEvent).where(InboxEvent.consumer == NAME))
        database.dispose()


def test_the_first_phase_cannot_write(sqlite_effects: Database) -> None:
    """A preparation that writes fails (the transaction refuses it) and leaves it all to the
    handler: a write there is an error, never a rollback that hides it."""

    class Writing(Preparer):
        def __call__(
            self, session: Session, events: list[Delivered], database: Database
        ) -> Prepared | None:
            session.execute(insert(InboxEvent).values(consumer="x", event_id=uuid.uuid4()))
            return super().__call__(session, events, database)

    handler = Handler()
    events = [delivered(n) for n in (1, 2)]
    apply_events(sqlite_effects, prepared_consumer(Writing(), handler), events)
    assert handler.batches == [[1, 2]]
    assert sorted(effect_ns(sqlite_effects)) == [1, 2]
    assert inboxed(sqlite_effects) == 2  # the preparation's row is not there


def test_only_a_batch_consumer_prepares() -> None:
    with pytest.raises(ValueError, match="batch"):
        ConsumerRegistry().register(
            Consumer(
                name="test.single",
                events=frozenset([ThingHappened.name]),
                handler=lambda session, event: None,
                prepare=lambda session, events: None,
            )
        )


def test_a_write_transaction_that_fails_abandons_the_preparation(sqlite_effects: Database) -> None:
    """The write transaction fails after ``keep``: nothing it wrote stays, and the preparation
    is told (``abandon``: it writes what it keeps in any case in a transaction of its own);
    a transaction that commits does not tell it."""
    preparer, handler = Preparer(fail_to_apply=True), Handler()
    with pytest.raises(RuntimeError, match="cannot apply"):
        apply_events(sqlite_effects, prepared_consumer(preparer, handler), [delivered(1)])
    (made,) = preparer.made
    assert (made.kept, made.abandoned) == (1, 1)
    assert effect_ns(sqlite_effects) == []
    assert inboxed(sqlite_effects) == 0
    preparer = Preparer()
    apply_events(sqlite_effects, prepared_consumer(preparer, handler), [delivered(2)])
    assert [p.abandoned for p in preparer.made] == [0]
    assert sorted(effect_ns(sqlite_effects)) == [2, 1002]
