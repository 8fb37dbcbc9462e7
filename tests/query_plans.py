"""Which of the statements a use case sends scan a whole table (SQLite's query planner)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from joinedup.core.db import Database


@contextmanager
def full_scans(database: Database, table: str) -> Iterator[list[str]]:
    """Collects, for every ``SELECT`` on ``table`` sent through ``database``'s engines while
    the block runs, the plan lines that scan ``table`` whole (``SCAN table``; a ``SEARCH`` uses
    an index), once the block has run. SQLite only: on PostgreSQL the list stays empty (its
    planner reads a test's few rows sequentially whatever the indexes, so its plans say
    nothing about a large table)."""
    found: list[str] = []
    if database.dialect != "sqlite":
        yield found
        return
    selects: list[tuple[Any, str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and table in statement:
            selects.append((conn, statement, parameters))

    engines = {database.engine, database.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    try:
        yield found
        for _conn, statement, parameters in selects:
            raw = database.read_engine.raw_connection()
            try:
                cursor = raw.cursor()
                plan = cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
            finally:
                raw.close()
            found.extend(row[-1] for row in plan if str(row[-1]).startswith(f"SCAN {table}"))
        assert selects, f"no SELECT on {table} was sent"
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", capture)
