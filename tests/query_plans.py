"""How SQLite's query planner runs the statements a use case sends: which scan a whole table."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from joinedup.core.db import Database


@contextmanager
def query_plans(database: Database, table: str) -> Iterator[list[str]]:
    """Collects the plan lines of every ``SELECT`` on ``table`` sent through ``database``'s
    engines while the block runs (``SCAN table`` reads it whole; ``SEARCH table USING INDEX``
    does not), once the block has run. SQLite only: on PostgreSQL the list stays empty (its
    planner reads a test's few rows sequentially whatever the indexes, so its plans say
    nothing about a large table)."""
    found: list[str] = []
    if database.dialect != "sqlite":
        yield found
        return
    selects: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and table in statement:
            selects.append((statement, parameters))

    engines = {database.engine, database.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    try:
        yield found
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", capture)
    assert selects, f"no SELECT on {table} was sent"
    for statement, parameters in selects:
        raw = database.read_engine.raw_connection()
        try:
            plan = raw.cursor().execute(f"EXPLAIN QUERY PLAN {statement}", parameters).fetchall()
        finally:
            raw.close()
        found.extend(str(row[-1]) for row in plan if table in str(row[-1]))


@contextmanager
def full_scans(database: Database, table: str) -> Iterator[list[str]]:
    """The plan lines (as :func:`query_plans`) that scan ``table`` whole."""
    scans: list[str] = []
    with query_plans(database, table) as lines:
        yield scans
    scans.extend(line for line in lines if line.startswith(f"SCAN {table}"))
