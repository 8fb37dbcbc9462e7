"""Database plumbing: the declarative base, engines for SQLite and PostgreSQL, units of work.

The caller owns the transaction (STYLE.md habit 2): use cases ``flush()``; the request scope,
the worker's job or the CLI command commits once through :func:`unit_of_work`.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Dialect,
    LargeBinary,
    MetaData,
    Table,
    Uuid,
    bindparam,
    create_engine,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, InstrumentedAttribute, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from joinedup.core.sqlite import (
    WalCheckpointer,
    configure_sqlite,
    sqlite_file,
    writer_turns_of,
    writers_turn,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware, on SQLite too."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: give a timezone-aware value")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        uuid.UUID: Uuid(),
    }


#: Seconds a new PostgreSQL connection may take before it fails (libpq's ``connect_timeout``;
#: a ``connect_timeout`` in the URL wins). Without it, a server that accepts the TCP connection
#: and never answers holds the connecting thread (a recorder, a consumer, ``stop()``) forever.
CONNECT_TIMEOUT_S = 10


def json_text(value: Any) -> str:
    """A JSON column's value as the text stored: orjson's (compact, several times faster than
    the standard library on the large documents an entitlement's explanation is), or the
    standard library's where orjson refuses what it accepts (integer keys, integers beyond
    64 bits, subclasses of str, int, dict and list such as a string enum's members, which the
    standard library writes as their plain value). Dates and times and dataclasses are refused
    as the standard library refuses them: a value the column cannot read back as it was is
    not stored silently. Unlike the standard library, orjson writes a UUID as its text, an
    enum member as its value, and NaN and the infinities as null (PostgreSQL's JSON refuses
    them as they are)."""
    try:
        return orjson.dumps(value, option=_STRICT).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value)


_STRICT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def make_engine(
    url: str,
    *,
    pool_size: int = 10,
    readonly: bool = False,
    connect_timeout: int = CONNECT_TIMEOUT_S,
) -> Engine:
    """An engine for ``url``. SQLite files get their directory created and the pragmas above;
    other databases' connections time out after ``connect_timeout`` seconds."""
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        pool: dict[str, Any] = {}
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # keep the connections a busy process uses (a new SQLite connection runs the
            # pragmas and parses the schema again)
            pool = {"pool_size": pool_size, "max_overflow": pool_size}
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_serializer=json_text,
            **pool,
        )
        configure_sqlite(engine, immediate=not readonly)
        return engine
    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = connect_timeout
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
        json_serializer=json_text,
    )


class Database:
    """The engines and session factories of one process (a writer and a reader)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.engine = make_engine(url, pool_size=pool_size)
        is_sqlite = url.startswith("sqlite")
        self.read_engine = (
            make_engine(url, readonly=True, pool_size=pool_size) if is_sqlite else self.engine
        )
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)
        path = sqlite_file(url)
        self._writer_lock = writer_turns_of(path) if path is not None else None
        self.read_session_factory = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: commits when the block ends, rolls back if it raises. On a SQLite
        file the process's writers take turns on a lock first
        (:func:`~joinedup.core.sqlite.writers_turn`)."""
        with writers_turn(self._writer_lock), self.session_factory() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only transaction (never takes the SQLite write lock; on SQLite a write in it
        is refused — the reader's connections are ``query_only`` — rather than silently
        rolled back)."""
        with self.read_session_factory() as session, session.begin():
            yield session
            session.rollback()

    @contextmanager
    def reading_only(self) -> Iterator[Session]:
        """A read-only transaction that refuses writes, in one snapshot: on SQLite a read
        transaction (on a ``query_only`` connection); on PostgreSQL ``REPEATABLE READ, READ
        ONLY``. For work that must not write (a write is an error here, not a rollback that
        hides it)."""
        if self.dialect != "postgresql":
            with self.reading() as session:
                yield session
            return
        options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with self.read_session_factory() as session:
            session.connection(execution_options=options)
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def reading_rows(self) -> Iterator[Connection]:
        """A read-only transaction on a plain connection, without an ORM session: for the
        few prebuilt selects every request makes (finding its web session), where the
        session's own machinery cost more than the reads. Rolled back when the block ends."""
        with self.read_engine.connect() as connection:
            yield connection

    def checkpoint_in_background(self) -> WalCheckpointer | None:
        """Start checkpointing a SQLite file's log in a thread of its own (None: not a
        SQLite file); the caller stops it."""
        path = sqlite_file(self.url)
        if path is None:
            return None
        checkpointer = WalCheckpointer(path)
        checkpointer.start()
        return checkpointer

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


#: The driver's positional parameter marker, by DB-API paramstyle (sqlite3, psycopg).
_PARAMETER_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
#: Bound parameters one statement may carry (SQLite's limit; PostgreSQL allows 65,535).
MAX_PARAMETERS = 32_000 if sqlite3.sqlite_version_info >= (3, 32) else 999


#: Values asked about in one ``IN (…)`` (SQLite allows 32,766 parameters).
IN_CHUNK = 500


def pairs_where_in(
    session: Session,
    key: InstrumentedAttribute[Any],
    value: InstrumentedAttribute[Any],
    column: InstrumentedAttribute[Any],
    wanted: Sequence[Any],
) -> dict[Any, Any]:
    """``{key: value}`` of the rows whose ``column`` is one of ``wanted`` (asked
    :data:`IN_CHUNK` at a time)."""
    values = list(dict.fromkeys(wanted))
    found: dict[Any, Any] = {}
    for start in range(0, len(values), IN_CHUNK):
        rows = session.execute(
            select(key, value).where(column.in_(values[start : start + IN_CHUNK]))
        )
        found.update((row[0], row[1]) for row in rows)
    return found


def transaction_memo(session: Session, key: str) -> dict[Any, Any]:
    """A dict that lives as long as ``session``'s current transaction (a new transaction
    starts with an empty one): for what a use case looks up again and again within one
    transaction and may change between transactions."""
    transaction = session.get_transaction()
    memo = session.info.get(key)
    if memo is None or memo[0] is not transaction:
        memo = session.info[key] = (transaction, {})
    found: dict[Any, Any] = memo[1]
    return found


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
