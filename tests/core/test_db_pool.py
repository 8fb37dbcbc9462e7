"""A SQLite file database keeps the connections a busy process uses (a new connection runs
the pragmas and parses the schema again); an in-memory one is left as SQLAlchemy makes it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, text

from joinedup.core.db import Database


def test_a_sqlite_file_keeps_as_many_connections_as_its_pool_size(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'pool.db'}", pool_size=8)
    made: list[Any] = []
    for engine in (database.engine, database.read_engine):
        event.listen(engine, "connect", lambda *args: made.append(args))
    try:
        for engine in (database.engine, database.read_engine):
            for _ in range(2):  # 8 at once, returned, then 8 at once again
                connections = [engine.connect() for _ in range(8)]
                for connection in connections:
                    connection.execute(text("SELECT 1"))
                    connection.close()
        # SQLAlchemy's default (5, and 10 more while busy) closes 3 on their return and
        # opens 3 new ones the next time
        assert len(made) == 16
    finally:
        database.dispose()


def test_an_in_memory_database_is_left_alone() -> None:
    database = Database("sqlite://", pool_size=8)
    with database.unit_of_work() as session:
        assert session.execute(text("SELECT 1")).scalar_one() == 1
    database.dispose()
