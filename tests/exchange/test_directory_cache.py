"""The exchange directory's snapshot is loaded once per change, however many threads find it
out of date at the same moment (a web process's thread pool under load)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from joinedup.core.db import Database
from joinedup.exchange import directory


def test_threads_finding_the_snapshot_stale_together_load_it_once(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sqlite_database
    with db.reading() as session:
        directory.current_directory(session)
        directory.mark_stale(session)
    loads: list[int] = []
    real = directory.load_directory

    def slow_load(session: Any, generation: int) -> Any:
        loads.append(generation)
        time.sleep(0.2)  # long enough for every other thread to be waiting for the lock
        return real(session, generation)

    monkeypatch.setattr(directory, "load_directory", slow_load)
    start = threading.Barrier(8)
    found: list[object] = []

    def read() -> None:
        start.wait()
        with db.reading() as session:
            found.append(directory.current_directory(session))

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(found) == 8
    assert len(loads) == 1
    assert len({id(snapshot) for snapshot in found}) == 1


def test_a_change_after_the_load_is_loaded_again(sqlite_database: Database) -> None:
    db = sqlite_database
    with db.reading() as session:
        first = directory.current_directory(session)
    with db.unit_of_work() as session:
        directory.bump_generation(session)
    with db.reading() as session:
        again = directory.current_directory(session)
    assert again is not first
    assert again.generation == first.generation + 1


def test_a_change_marked_while_loading_is_loaded_next_time(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = sqlite_database
    with db.reading() as session:
        directory.mark_stale(session)
    real = directory.load_directory
    loads: list[int] = []

    def load_and_change(session: Any, generation: int) -> Any:
        loads.append(generation)
        if len(loads) == 1:
            directory.mark_stale(session)  # another thread's change, during this load
        return real(session, generation)

    monkeypatch.setattr(directory, "load_directory", load_and_change)
    with db.reading() as session:
        directory.current_directory(session)
    with db.reading() as session:
        directory.current_directory(session)
    assert len(loads) == 2
