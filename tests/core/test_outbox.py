"""The outbox: an event exists exactly when the transaction that emitted it committed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from bus_harness import (
    Stack,
    ThingHappened,
    bus_url_fixture,  # noqa: F401 (fixture)
    registry_of,
    stack_fixture,  # noqa: F401 (fixture)
)
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import func, select

from joinedup.core.db import Database
from joinedup.core.events import (
    Delivered,
    Event,
    before_commit_now,
    before_this_commit,
    emit,
    emit_many,
    emit_queued,
    emit_queued_now,
    on_commit_of,
    tell_on_commit,
)
from joinedup.core.outbox import OutboxEvent


class Boom(Exception):
    pass


def emit_then_fail(database: Database, events: list[Event]) -> None:
    with database.unit_of_work() as session:
        emit_many(session, events)
        session.flush()  # the rows reached the database, inside the transaction
        raise Boom


def test_emit_writes_the_event_in_the_callers_transaction(database: Database) -> None:
    occurred = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
    with database.unit_of_work() as session:
        event_id = emit(session, ThingHappened(n=7), occurred_at=occurred)
    with database.reading() as session:
        row = session.scalars(select(OutboxEvent)).one()
        assert (row.event_id, row.name, row.payload) == (event_id, ThingHappened.name, {"n": 7})
        assert row.occurred_at == occurred
        assert row.recorded_at > occurred  # lag is measured from when it was written
        assert row.stream_seq is None
        assert row.published_at is None


def test_emit_many_returns_the_ids_in_order(database: Database) -> None:
    with database.unit_of_work() as session:
        ids = emit_many(session, [ThingHappened(n=i) for i in range(5)])
        assert emit_many(session, []) == []
    with database.reading() as session:
        rows = session.execute(
            select(OutboxEvent.event_id, OutboxEvent.payload).order_by(OutboxEvent.id)
        ).all()
    assert [row.event_id for row in rows] == ids
    assert [row.payload["n"] for row in rows] == list(range(5))


def _outbox(database: Database) -> list[tuple[uuid.UUID, int]]:
    with database.reading() as session:
        rows = session.execute(
            select(OutboxEvent.event_id, OutboxEvent.payload).order_by(OutboxEvent.id)
        ).all()
    return [(row.event_id, row.payload["n"]) for row in rows]


def test_queued_events_are_inserted_together_when_the_transaction_commits(
    database: Database,
) -> None:
    """Events queued by a hot path reach the outbox in one insert, just before the commit,
    in the order queued and with the ids returned; ``emit_queued_now`` puts them before
    what the transaction emits after."""
    inserts: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX_EVENT"):
            inserts.append(statement)

    sqlalchemy_event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.unit_of_work() as session:
            ids = [emit_queued(session, ThingHappened(n=n)) for n in range(3)]
            assert inserts == []  # (nothing written yet)
        assert len(inserts) == 1
        assert _outbox(database) == [(event_id, n) for n, event_id in enumerate(ids)]
        inserts.clear()
        with database.unit_of_work() as session:
            first = emit_queued(session, ThingHappened(n=10))
            assert emit_queued_now(session) == 1
            assert emit_queued_now(session) == 0
            later = emit(session, ThingHappened(n=11))
        assert _outbox(database)[-2:] == [(first, 10), (later, 11)]
    finally:
        sqlalchemy_event.remove(database.engine, "before_cursor_execute", seen)


def test_queued_events_of_a_rolled_back_transaction_are_dropped(database: Database) -> None:
    """Rolled back: the queued events go with it, and the session's next transaction does
    not carry them. In a savepoint an event is emitted at once, and a savepoint rolled back
    takes it back."""
    with database.unit_of_work() as session:
        savepoint = session.begin_nested()
        emit_queued(session, ThingHappened(n=1))
        savepoint.rollback()
        kept = emit_queued(session, ThingHappened(n=2))
    assert _outbox(database) == [(kept, 2)]
    session = database.session_factory()
    try:
        session.begin()
        emit_queued(session, ThingHappened(n=3))
        session.rollback()
        with session.begin():
            emit(session, ThingHappened(n=4))
    finally:
        session.close()
    assert [n for _, n in _outbox(database)] == [2, 4]


def test_what_a_transaction_gathers_for_its_commit_is_written_in_it_before_the_events(
    database: Database,
) -> None:
    """``before_this_commit``: gathered under a key, handed to its ``then`` once, in the
    transaction just before it commits (what it writes commits with it; what it queues is
    inserted too), or earlier by ``before_commit_now``; dropped with a rollback, not carried
    into the session's next transaction."""
    handed: list[list[int]] = []

    def then(session: Any, gathered: list[int]) -> None:
        handed.append(list(gathered))
        emit_queued(session, ThingHappened(n=sum(gathered)))

    with database.unit_of_work() as session:
        for n in (1, 2):
            before_this_commit(session, "k", list, lambda g: then(session, g)).append(n)
        assert handed == []
    assert handed == [[1, 2]]
    assert [n for _, n in _outbox(database)] == [3]  # (queued by it, inserted with it)
    with database.unit_of_work() as session:
        before_this_commit(session, "k", list, lambda g: then(session, g)).append(5)
        before_commit_now(session, "k")
        before_commit_now(session, "k")  # (nothing left)
        assert handed[-1] == [5]
    assert len(handed) == 2
    session = database.session_factory()
    try:
        session.begin()
        before_this_commit(session, "k", list, lambda g: then(session, g)).append(7)
        session.rollback()
        with session.begin():
            pass
    finally:
        session.close()
    assert len(handed) == 2
    assert [n for _, n in _outbox(database)] == [3, 5]


def test_a_rolled_back_transaction_leaves_no_event(database: Database) -> None:
    with pytest.raises(Boom):
        emit_then_fail(database, [ThingHappened(n=1)])
    with database.reading() as session:
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 0


def test_no_event_is_published_for_a_rolled_back_transaction(stack: Stack) -> None:
    """End to end, on every backend: only the committed event reaches the consumer."""
    with pytest.raises(Boom):
        emit_then_fail(stack.database, [ThingHappened(n=1), ThingHappened(n=2)])
    [kept] = stack.emit([ThingHappened(n=3)])
    registry = registry_of({"outbox.watcher": [ThingHappened.name]})
    stack.run_until(registry, lambda: len(stack.effects()) == 1)
    assert [(row.event_id, row.n) for row in stack.effects()] == [(str(kept), 3)]
    assert stack.stream_order() == [(1, kept, ThingHappened.name)]
    if stack.uses_nats:
        assert stack.stream_messages() == 1


def test_delivered_round_trips_through_json() -> None:
    event = Delivered(
        event_id=uuid.uuid4(),
        name="population.birth_registered.v1",
        payload={"child": "x", "nested": {"a": [1, 2]}},
        occurred_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        stream_seq=42,
    )
    assert Delivered.from_json(event.to_json()) == event


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b"[]",
        b'{"event_id": "x"}',
        b'{"event_id": "9b2f7c1e-0000-4000-8000-000000000000", "name": "a.b", "payload": {},'
        b' "occurred_at": "2025-01-01T00:00:00", "stream_seq": 1}',
    ],
    ids=["not-json", "not-an-object", "missing-fields", "naive-timestamp"],
)
def test_delivered_refuses_what_is_not_an_event_envelope(data: bytes) -> None:
    with pytest.raises(ValueError, match=r"event envelope|timezone"):
        Delivered.from_json(data)


def test_a_rolled_back_transaction_tells_no_one_in_the_sessions_next(database: Database) -> None:
    """What a transaction told of (``tell_on_commit``) is dropped when it rolls back: a later
    transaction of the same session that commits does not call its listeners."""
    called: list[int] = []
    remove = on_commit_of("test.rolled-back", lambda: called.append(1))
    session = database.session_factory()
    try:
        session.begin()
        tell_on_commit(session, "test.rolled-back")
        session.rollback()
        with session.begin():
            emit(session, ThingHappened(n=1))
        assert called == []
        with session.begin():
            tell_on_commit(session, "test.rolled-back")
        assert called == [1]
    finally:
        session.close()
        remove()
