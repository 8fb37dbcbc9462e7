"""The write-ahead log of a SQLite file is checkpointed in the background by a server
process, and seldom by a committing writer."""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

from sqlalchemy import text

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.core.sqlite import WAL_AUTOCHECKPOINT_PAGES, WalCheckpointer, sqlite_file


def test_connections_checkpoint_only_a_long_log_themselves(sqlite_database: Database) -> None:
    with sqlite_database.engine.connect() as connection:
        pages = connection.execute(text("PRAGMA wal_autocheckpoint")).scalar_one()
    assert pages == WAL_AUTOCHECKPOINT_PAGES > 1_000


def _rows_in_the_database_file(path: str, tmp_path: Path) -> int:
    """Rows of ``filler`` in the database file alone, as if its log were lost."""
    alone = tmp_path / "alone.db"
    shutil.copyfile(path, alone)
    probe = sqlite3.connect(alone, isolation_level=None)
    try:
        found = probe.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'filler'"
        ).fetchone()[0]
        return int(probe.execute("SELECT count(*) FROM filler").fetchone()[0]) if found else 0
    finally:
        probe.close()
        alone.unlink()


def test_the_checkpointer_copies_the_log_into_the_database(
    sqlite_database: Database, tmp_path: Path
) -> None:
    path = sqlite_file(sqlite_database.url)
    assert path is not None
    with sqlite_database.unit_of_work() as session:
        session.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body BLOB)"))
        session.execute(
            text("INSERT INTO filler (body) VALUES (randomblob(3000))"),
            [{} for _ in range(600)],
        )
    # committed, in the log only: no commit checkpointed a log this short
    assert _rows_in_the_database_file(path, tmp_path) == 0

    checkpointer = WalCheckpointer(path, interval=0.05)
    checkpointer.start()
    try:
        deadline = time.monotonic() + 10
        while checkpointer.checkpoints < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        checkpointer.stop()
    assert checkpointer.checkpoints >= 2
    assert checkpointer._thread is None  # stopped and joined
    assert _rows_in_the_database_file(path, tmp_path) == 600
    with sqlite_database.reading() as session:
        assert session.execute(text("SELECT count(*) FROM filler")).scalar_one() == 600


def test_only_a_sqlite_file_is_checkpointed_in_the_background(sqlite_database: Database) -> None:
    checkpointer = sqlite_database.checkpoint_in_background()
    assert checkpointer is not None
    try:
        assert checkpointer.path == sqlite_file(sqlite_database.url)
    finally:
        checkpointer.stop()
    memory = Database("sqlite://")
    try:
        assert memory.checkpoint_in_background() is None
    finally:
        memory.dispose()


def test_the_checkpointer_never_makes_a_file_and_reads_the_url_as_sqlalchemy_does(
    tmp_path: Path,
) -> None:
    """A URL's query is not part of the file's name, and a missing file is not created by
    the checkpointer (it checkpoints nothing there, and stops when asked)."""
    assert sqlite_file(f"sqlite:///{tmp_path}/x.db?timeout=5") == f"{tmp_path}/x.db"
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    missing = tmp_path / "missing.db"
    checkpointer = WalCheckpointer(str(missing), interval=0.02)
    checkpointer.start()
    time.sleep(0.1)
    checkpointer.stop()
    assert checkpointer._thread is None
    assert not missing.exists()


def test_only_a_serving_application_checkpoints_in_the_background(
    settings: Settings, sqlite_database: Database
) -> None:
    """A server process's application starts the checkpointer and stops it with itself; a
    test's application (not serving) starts none."""
    import gc
    import threading

    from fastapi.testclient import TestClient

    from joinedup.web import create_app

    def checkpointers() -> int:
        return sum(t.name == "sqlite-checkpointer" for t in threading.enumerate())

    before = checkpointers()
    with TestClient(create_app(settings, database=sqlite_database)):
        assert checkpointers() == before
    thresholds = gc.get_threshold()
    try:
        with TestClient(create_app(settings, database=sqlite_database, serving=True)):
            assert checkpointers() == before + 1
        assert checkpointers() == before  # stopped with the application
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
