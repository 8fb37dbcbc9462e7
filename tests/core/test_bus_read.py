"""The in-process bus reads for a consumer only the events it subscribed to (their payloads
are never decoded for the others), and how far it read, so it moves past the rest."""

from __future__ import annotations

import uuid

from joinedup.core.bus.inprocess import READ_BATCH, InProcessBus, read_statement
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.outbox import OutboxEvent


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
