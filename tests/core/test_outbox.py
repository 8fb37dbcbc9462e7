"""The outbox: an event exists exactly when the transaction that emitted it committed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from bus_harness import (
    Stack,
    ThingHappened,
    bus_url_fixture,  # noqa: F401 (fixture)
    registry_of,
    stack_fixture,  # noqa: F401 (fixture)
)
from sqlalchemy import func, select

from joinedup.core.db import Database
from joinedup.core.events import Delivered, Event, emit, emit_many
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
