"""Writing many rows at once, faster than the ORM: multi-row ``INSERT`` statements built once
per table, columns and dialect, sent straight to the driver (``insert_rows``,
``insert_rows_sharing``), and ``UPDATE … FROM (VALUES …)`` for many rows (``update_rows``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Dialect,
    LargeBinary,
    Table,
    bindparam,
    insert,
    update,
)

#: The driver's positional parameter marker, by DB-API paramstyle (sqlite3, psycopg).
_PARAMETER_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
#: Bound parameters one statement may carry (SQLite's limit; PostgreSQL allows 65,535).
MAX_PARAMETERS = 32_000 if sqlite3.sqlite_version_info >= (3, 32) else 999


def parameter_marker(dialect: Dialect) -> str | None:
    """The driver's positional marker, or ``None`` for a paramstyle we do not write by hand."""
    return _PARAMETER_MARKERS.get(dialect.paramstyle)


@dataclass(frozen=True)
class _InsertPlan:
    """How :func:`insert_rows` writes rows of some columns of a table for one dialect."""

    head: str  # INSERT INTO table (columns) VALUES
    group: str  # (?, ?, …) for one row
    width: int
    per_statement: int
    #: one statement per row, for many rows in one ``executemany`` (PostgreSQL: see
    #: :func:`insert_rows`), else multi-row statements
    one_row: bool
    #: (position, bind processor) of the columns whose type converts values for the dialect
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]

    def statement(self, rows: int) -> str:
        return _statement(self.head, self.group, rows)


@lru_cache(maxsize=1024)
def _statement(head: str, group: str, rows: int) -> str:
    return head + ", ".join(group for _ in range(rows))


@lru_cache(maxsize=128)
def _insert_plan(
    table: Table, columns: tuple[str, ...], dialect: Dialect, marker: str, plain_values: bool
) -> _InsertPlan:
    quote = dialect.identifier_preparer.quote
    column_list = ", ".join(quote(name) for name in columns)
    converted: list[tuple[int, Callable[[Any], Any]]] = []
    if not plain_values:
        for position, name in enumerate(columns):
            column_type = table.c[name].type
            if isinstance(column_type, LargeBinary):
                continue  # sqlite3 and psycopg take bytes as they are; no DBAPI wrapper
            process = column_type._cached_bind_processor(dialect)
            if process is not None:
                converted.append((position, process))
    return _InsertPlan(
        # our own table and column names, quoted; the values are bound by the driver
        head=f"INSERT INTO {quote(table.name)} ({column_list}) VALUES ",  # noqa: S608
        group="(" + ", ".join(marker for _ in columns) + ")",
        width=len(columns),
        per_statement=max(1, MAX_PARAMETERS // len(columns)),
        converted=tuple(converted),
        one_row=dialect.name == "postgresql",
    )


def _converter(
    converted: tuple[tuple[int, Callable[[Any], Any]], ...], width: int
) -> Callable[[Sequence[Any]], Sequence[Any]]:
    """A function giving a row with its converted columns' values bound for the driver (as
    :func:`insert_rows` binds them, remembering per column the last value converted)."""
    last: list[tuple[Any, Any]] = [(None, None)] * len(converted)

    def convert(row: Sequence[Any]) -> Sequence[Any]:
        if len(row) != width:
            raise ValueError(f"a row of {len(row)} values for {width} columns")
        if not converted:
            return row
        values = list(row)
        for which, (position, process) in enumerate(converted):
            value = values[position]
            if value is None:
                continue
            seen, result = last[which]
            if seen is not value:
                result = process(value)
                last[which] = (value, result)
            values[position] = result
        return values

    return convert


def insert_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    plain_values: bool = False,
) -> None:
    """Insert ``rows`` (values in ``columns`` order) as multi-row ``INSERT … VALUES (…), (…)``
    statements at the driver, each value bound by its column's type — or, with
    ``plain_values``, passed as they are (ints, strings, bytes the driver takes directly).

    On PostgreSQL, one one-row statement for every row in one ``executemany`` instead: psycopg
    finds a statement's placeholders by scanning its text in Python, and keeps what it found
    only for statements of at most 50 parameters and 4,096 characters, so a multi-row
    statement was scanned again on every call (a sixth of the births consumer's processor time
    on PostgreSQL); its ``executemany`` sends the rows in one pipeline (one round trip) and
    scans the short statement once. Measured on the local server (14 columns, batches of 60
    to 400 rows): 15–24 µs of client processor time a row against 43–53, the server's 18–25
    against 10–27.

    For hot write paths (the transparency log, the exchange's group commit): SQLAlchemy's
    per-row insert processing can cost more than the write itself, and an ``executemany`` steps
    the driver once per row, releasing and re-taking the GIL each time — in a busy web process
    every re-take waits for the event loop. The columns' bind processors (UUIDs, UTC
    timestamps, dates) are applied here, so the stored values are those SQLAlchemy would store;
    only the columns whose type converts values are touched (most of a wide row is passed to
    the driver as it is), and the statement text is built once per table and columns.
    """
    if not rows:
        return
    dialect = connection.dialect
    marker = parameter_marker(dialect)
    names = tuple(columns)
    if marker is None:  # another driver's parameter style: let SQLAlchemy bind
        connection.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
        return
    plan = _insert_plan(table, names, dialect, marker, plain_values)
    # a batch's rows often share one timestamp object (a group's ``logged_at``): the
    # converter turns it into the driver's value once, not per row
    convert = _converter(plan.converted, plan.width)
    if plan.one_row:
        connection.exec_driver_sql(plan.head + plan.group, [tuple(convert(row)) for row in rows])
        return
    for start in range(0, len(rows), plan.per_statement):
        chunk = rows[start : start + plan.per_statement]
        values: list[Any] = []
        for row in chunk:
            values.extend(convert(row))
        connection.exec_driver_sql(plan.statement(len(chunk)), tuple(values))


@lru_cache(maxsize=128)
def _update_statement(
    table: Table, columns: tuple[str, ...], key: str, dialect: Dialect, marker: str
) -> tuple[str, tuple[tuple[int, Callable[[Any], Any]], ...]]:
    quote = dialect.identifier_preparer.quote
    assignments = ", ".join(f"{quote(name)} = {marker}" for name in columns)
    converted: list[tuple[int, Callable[[Any], Any]]] = []
    for position, name in enumerate((*columns, key)):
        column_type = table.c[name].type
        if isinstance(column_type, LargeBinary):
            continue
        process = column_type._cached_bind_processor(dialect)
        if process is not None:
            converted.append((position, process))
    # our own table and column names, quoted; the values are bound by the driver
    sql = f"UPDATE {quote(table.name)} SET {assignments} WHERE {quote(key)} = {marker}"  # noqa: S608
    return sql, tuple(converted)


def update_rows(
    connection: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    key: str = "id",
) -> None:
    """``UPDATE table SET column = …, … WHERE key = …`` for each of ``rows`` (the values in
    ``columns`` order, then the key's) as one ``executemany`` at the driver, each value bound
    by its column's type as :func:`insert_rows` binds it (converted once when rows share a
    value: a bulk update's rows often share an explanation dict SQLAlchemy's ``executemany``
    would serialise again per row)."""
    if not rows:
        return
    dialect = connection.dialect
    marker = parameter_marker(dialect)
    names = tuple(columns)
    if marker is None:  # another driver's parameter style: let SQLAlchemy bind
        t = table
        statement = (
            update(t)
            .where(t.c[key] == bindparam("b_key"))
            .values({name: bindparam(name) for name in names})
        )
        connection.execute(
            statement,
            [{**dict(zip(names, row[:-1], strict=True)), "b_key": row[-1]} for row in rows],
        )
        return
    sql, converted = _update_statement(table, names, key, dialect, marker)
    convert = _converter(converted, len(names) + 1)
    connection.exec_driver_sql(sql, [tuple(convert(row)) for row in rows])


@lru_cache(maxsize=1024)
def _sharing_statement(head: str, group: str, rows: int) -> str:
    return head + ", ".join(group for _ in range(rows)) + ")"


def insert_rows_sharing(
    connection: Connection,
    table: Table,
    shared: Mapping[str, Any],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert ``rows`` (values in ``columns`` order) that share the values ``shared`` (column
    → value) in their other columns: the rows :func:`insert_rows` would insert with each row's
    values followed by the shared ones, stored alike.

    On SQLite the shared values are bound once per statement, ``INSERT … SELECT ?, …,
    column1, … FROM (VALUES (…), …)``, not once per row: a bulk read's data-usage rows share
    twenty of their twenty-four columns, and binding them row by row (and building the rows)
    cost about as much as SQLite's inserting them. Elsewhere the rows are inserted whole
    (PostgreSQL types a ``SELECT``'s parameters by themselves, not by the columns they go to)."""
    if not rows:
        return
    dialect = connection.dialect
    marker = parameter_marker(dialect)
    names = tuple(columns)
    common_names = tuple(shared)
    if dialect.name != "sqlite" or marker is None:
        common = tuple(shared.values())
        insert_rows(connection, table, (*names, *common_names), [(*row, *common) for row in rows])
        return
    quote = dialect.identifier_preparer.quote
    plan = _insert_plan(table, names, dialect, marker, False)
    bound_common: list[Any] = []
    for name in common_names:
        value = shared[name]
        column_type = table.c[name].type
        process = (
            None if isinstance(column_type, LargeBinary) else
            column_type._cached_bind_processor(dialect)
        )  # fmt: skip
        bound_common.append(process(value) if process is not None and value is not None else value)
    selected = ", ".join(
        [marker for _ in common_names] + [f"column{i + 1}" for i in range(len(names))]
    )
    column_list = ", ".join(quote(name) for name in (*common_names, *names))
    # our own table and column names, quoted; the values are bound by the driver
    head = (
        f"INSERT INTO {quote(table.name)} ({column_list}) "  # noqa: S608
        f"SELECT {selected} FROM (VALUES "
    )
    convert = _converter(plan.converted, plan.width)
    per_statement = max(1, (MAX_PARAMETERS - len(common_names)) // len(names))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = list(bound_common)
        for row in chunk:
            values.extend(convert(row))
        connection.exec_driver_sql(_sharing_statement(head, plan.group, len(chunk)), tuple(values))
