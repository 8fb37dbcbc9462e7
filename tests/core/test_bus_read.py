"""The in-process bus reads for a consumer only the events it subscribed to, and how far it
read, so it moves past the rest; a process's consumers share one read of the head of the
stream."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from bus_harness import published
from sqlalchemy import event

from joinedup.core.bus.inprocess import READ_BATCH, InProcessBus, _Window, read_statement
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.events import Delivered


def test_a_consumer_reads_only_its_events_and_how_far_it_read(database: Database) -> None:
    published(database, ["a", "b", "b", "a", "c", "b"])
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
    published(database, ["a", *["b"] * 10])
    with database.reading() as session:
        rows = session.execute(read_statement(0, frozenset({"a"}))).all()
    assert [(row.wanted, row.payload) for row in rows] == [(True, {"n": 1})] + [(False, None)] * 10
    assert len(rows) <= READ_BATCH


class _Counted:
    """Counts the queries that read the outbox."""

    def __init__(self, database: Database) -> None:
        self.reads = 0
        for engine in {database.engine, database.read_engine}:
            event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        statement = args[2]
        if "FROM outbox" in statement and statement.lstrip().upper().startswith("SELECT"):
            self.reads += 1


def test_the_consumers_of_a_process_share_one_read_of_the_head_of_the_stream(
    database: Database,
) -> None:
    """Five consumers woken by a publication: one query for all of them, and each gets just
    what a read of its own gives (its events, how far it read)."""
    published(database, ["a", "b", "c", "a", "d", "b"])
    bus = InProcessBus(database)
    wanted = [frozenset({"a"}), frozenset({"b"}), frozenset({"a", "c"}), frozenset({"z"}),
              frozenset({"d"})]  # fmt: skip
    expected = [bus._read(0, names) for names in wanted]
    bus._subscribe(frozenset().union(*wanted))  # (the process's consumers, all started)
    counted = _Counted(database)

    async def everyone(after: int) -> list[tuple[list[Delivered], int | None]]:
        return list(await asyncio.gather(*(bus._next(after, names) for names in wanted)))

    assert asyncio.run(everyone(0)) == expected
    assert counted.reads == 1
    published(database, ["b", "a"], first=7)
    assert asyncio.run(everyone(6)) == [bus._read(6, names) for names in wanted]
    assert counted.reads == 2 + len(wanted)  # one shared read (and the reference reads)
    counted.reads = 0
    # nothing new: a read begun before a consumer asked is not its answer (the first one's),
    # the one begun while they waited is
    assert asyncio.run(everyone(8)) == [([], None)] * len(wanted)
    assert counted.reads == 2


def test_a_consumer_behind_the_window_reads_for_itself_and_leaves_the_window_at_the_head(
    database: Database,
) -> None:
    published(database, ["a", "b"] * 10)
    bus = InProcessBus(database, window=4)
    bus._subscribe(frozenset({"a", "b"}))  # (the process's consumers, all started)
    counted = _Counted(database)

    async def read(after: int, names: frozenset[str]) -> tuple[list[Delivered], int | None]:
        return await bus._next(after, names)

    head = asyncio.run(read(0, frozenset({"a"})))  # reads 1..20, keeps 17..20
    assert [e.stream_seq for e in head[0]] == list(range(1, 21, 2))
    assert (bus._window.start, bus._window.seqs) == (16, [17, 18, 19, 20])
    assert asyncio.run(read(18, frozenset({"a", "b"}))) == bus._read(18, frozenset({"a", "b"}))
    reads = counted.reads
    behind = asyncio.run(read(2, frozenset({"b"})))  # before the window: its own read
    assert behind == bus._read(2, frozenset({"b"}))
    assert counted.reads == reads + 2
    assert (bus._window.start, bus._window.seqs) == (16, [17, 18, 19, 20])  # unchanged
    assert asyncio.run(read(17, frozenset({"a"})))[1] == 20  # still served from memory
    assert counted.reads == reads + 2


def test_a_process_decodes_only_the_payloads_its_consumers_handle(database: Database) -> None:
    """The shared read of the head holds the payloads of the events the process's consumers
    handle, no other; a consumer of other events starting later gets its own with theirs
    (the window read again), as a read of its own gives them."""
    published(database, ["a", "b", "c", "a"])
    bus = InProcessBus(database)
    assert asyncio.run(bus._next(0, frozenset({"a"}))) == bus._read(0, frozenset({"a"}))
    held = {e.stream_seq: e.payload for e in bus._window.events}
    assert held == {1: {"n": 1}, 2: {}, 3: {}, 4: {"n": 4}}
    assert asyncio.run(bus._next(0, frozenset({"b"}))) == bus._read(0, frozenset({"b"}))
    assert asyncio.run(bus._next(0, frozenset({"a"}))) == bus._read(0, frozenset({"a"}))
    held = {e.stream_seq: e.payload for e in bus._window.events}
    assert held == {1: {"n": 1}, 2: {"n": 2}, 3: {}, 4: {"n": 4}}


def test_the_window_keeps_a_run_without_gaps(database: Database) -> None:
    window = _Window(capacity=3)
    events = [
        Delivered(event_id=uuid.uuid4(), name="a", payload={}, occurred_at=utcnow(), stream_seq=n)
        for n in range(1, 8)
    ]
    window.add(0, events[:2])
    assert window.read(0, frozenset({"a"})) == (events[:2], 2)
    assert window.read(2, frozenset({"a"})) is None  # at its end: the database is asked
    window.add(1, events[1:3])  # overlapping, not after its end: left as it is
    assert window.seqs == [1, 2]
    window.add(2, events[2:5])  # follows on: extended, the oldest dropped
    assert (window.start, window.seqs) == (2, [3, 4, 5])
    assert window.read(1, frozenset({"a"})) is None  # before the window
    window.add(6, events[6:])  # newer, with a gap: started afresh
    assert (window.start, window.seqs) == (6, [7])
    assert window.read(6, frozenset({"a"})) == ([events[6]], 7)
    assert window.read(5, frozenset({"a"})) is None  # the gap before it is not known
