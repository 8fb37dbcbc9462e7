"""The demo agencies' own store opened by many at once: by processes starting together on a
new data directory, and while another connection is in the middle of a write."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from joinedup.demo.agency_systems import AgencyStore

OPENERS = 6


def _tables(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        return [str(name) for (name,) in rows]
    finally:
        db.close()


def test_a_new_store_opened_by_many_at_once_is_made_once(tmp_path: Path) -> None:
    # Each round, every opener opens the same new database at the same moment: switching it
    # to WAL on open made the losers fail at once with "database is locked" (not waited for).
    rounds = 300
    start = threading.Barrier(OPENERS)
    failures: list[str] = []

    def open_each() -> None:
        for round_ in range(rounds):
            start.wait(timeout=30)
            try:
                AgencyStore(tmp_path / f"{round_}.db").handled()
            except sqlite3.Error as exc:
                failures.append(f"round {round_}: {exc}")

    openers = [threading.Thread(target=open_each) for _ in range(OPENERS)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(timeout=60)
    assert not any(opener.is_alive() for opener in openers)
    assert failures == []
    assert _tables(tmp_path / "0.db") == ["failing", "handled", "received"]
    assert not list(tmp_path.glob(".*"))  # no half-made database left behind


def test_the_store_opens_at_once_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "agency-systems.db"
    AgencyStore(path)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO received (system, message_id, received_at) VALUES ('x', 'm-1', 'now')"
    )
    failures: list[str] = []

    def open_and_read() -> None:
        try:
            AgencyStore(path).handled()
        except sqlite3.Error as exc:
            failures.append(str(exc))

    try:
        # The writer holds its transaction throughout: an open that wanted the write lock
        # would wait out the 30 s busy timeout and be caught here, still running.
        openers = [threading.Thread(target=open_and_read) for _ in range(OPENERS)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(timeout=10)
        assert not any(opener.is_alive() for opener in openers)
        assert failures == []
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_store_keeps_a_connection_per_thread_until_closed(tmp_path: Path) -> None:
    store = AgencyStore(tmp_path / "agency-systems.db")
    assert store.handled() == []
    with store._connect() as first, store._connect() as again:
        assert first is again  # kept, not opened for each notice
    other: list[sqlite3.Connection] = []

    def in_another_thread() -> None:
        with store._connect() as db:
            other.append(db)

    thread = threading.Thread(target=in_another_thread)
    thread.start()
    thread.join()
    assert other[0] is not first
    store.close()
    with pytest.raises(sqlite3.ProgrammingError):
        first.execute("SELECT 1")  # closed
    assert store.handled() == []  # opens a new one
    store.close()
