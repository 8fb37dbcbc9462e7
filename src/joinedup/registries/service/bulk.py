"""Bulk loading for the batch imports: identifiers reserved up front, columns inserted at once.

The batch use cases validate whole columns first, then write them here in the caller's
transaction. Values arrive as numpy columns and are converted per column, not per value:

- SQLite: one ``executemany`` on the driver with values already in SQLAlchemy's storage
  format (dates ``YYYY-MM-DD``, timestamps as its ``DateTime`` stores them); this skips
  SQLAlchemy's per-row parameter processing, which costs more than SQLite's insert itself.
- PostgreSQL: ``COPY … FROM STDIN`` through psycopg, the server's bulk-load path.

Identifiers are reserved before the insert (the maximum under SQLite's write lock, the
table's sequence on PostgreSQL) so relations can refer to rows of the same batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from itertools import repeat
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from joinedup.core.db import Base

Column = npt.NDArray[Any] | list[Any] | str | int | date | datetime | None


def or_none(keep: npt.NDArray[np.bool_], values: npt.NDArray[Any] | object) -> npt.NDArray[Any]:
    """``values`` where ``keep``, None elsewhere (an object column for nullable values)."""
    out = np.full(keep.shape[0], None, dtype=object)
    out[keep] = values[keep] if isinstance(values, np.ndarray) else values
    return out


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def allocate_ids(session: Session, model: type[Base], count: int) -> npt.NDArray[np.int64]:
    """Reserve ``count`` new primary keys of ``model`` (its ``id``) for this transaction."""
    table = _table(model)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        ).scalars()
        return np.fromiter(rows, dtype=np.int64, count=count)
    # SQLite: writers hold the database lock from BEGIN IMMEDIATE, so the maximum is stable.
    highest = session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return np.arange(int(highest) + 1, int(highest) + 1 + count, dtype=np.int64)


def _sqlite_column(table: Table, name: str, values: Column, count: int, session: Session) -> Any:
    dialect = session.get_bind().dialect
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "M":
            days = values.astype("datetime64[D]")
            strings = np.datetime_as_string(days, unit="D").astype(object)
            strings[np.isnat(days)] = None
            return strings.tolist()
        values = values.tolist()
    column_type = table.c[name].type
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(values, list):
        if processor is None:
            return values
        return [None if v is None else processor(v) for v in values]
    return repeat(processor(values) if processor and values is not None else values, count)


def _postgres_column(values: Column, count: int) -> Any:
    if isinstance(values, np.ndarray):
        if values.dtype.kind == "M":
            return values.astype("datetime64[D]").astype(object).tolist()  # NaT becomes None
        return values.tolist()
    if isinstance(values, list):
        return values
    return repeat(values, count)


def insert_columns(session: Session, model: type[Base], columns: Mapping[str, Column]) -> int:
    """Insert rows given as columns (arrays or lists of one length; scalars are repeated).

    Returns the number of rows. Runs in the session's transaction; the ORM is not involved.
    """
    table = _table(model)
    lengths = {len(v) for v in columns.values() if isinstance(v, np.ndarray | list)}
    if len(lengths) != 1:
        raise ValueError(f"columns of {table.name} must have one common length, not {lengths}")
    count = lengths.pop()
    if count == 0:
        return 0
    names = list(columns)
    connection = session.connection()
    dialect = connection.dialect
    quote = dialect.identifier_preparer.quote
    column_list = ", ".join(quote(n) for n in names)
    if dialect.name == "postgresql":
        data = [_postgres_column(columns[n], count) for n in names]
        driver = connection.connection.driver_connection
        assert driver is not None
        copy_sql = f"COPY {quote(table.name)} ({column_list}) FROM STDIN"
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in zip(*data, strict=False):
                copy.write_row(row)
        return count
    data = [_sqlite_column(table, n, columns[n], count, session) for n in names]
    placeholders = ", ".join("?" for _ in names)
    statement = f"INSERT INTO {quote(table.name)} ({column_list}) VALUES ({placeholders})"  # noqa: S608 (identifiers are quoted table metadata)
    connection.exec_driver_sql(statement, list(zip(*data, strict=False)))
    return count
