"""Database plumbing: the declarative base, engines for SQLite and PostgreSQL, units of work.

The caller owns the transaction (STYLE.md habit 2): use cases ``flush()``; the request scope,
the worker's job or the CLI command commits once through :func:`unit_of_work`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    JSON,
    Connection,
    DateTime,
    Dialect,
    MetaData,
    Uuid,
    create_engine,
    select,
    text,
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

if TYPE_CHECKING:  # (imported when first used: psycopg, PostgreSQL only)
    from joinedup.core.pg_notify import CommitWatcher

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


#: ``session.info`` key, true in the sessions of :meth:`Database.reading`,
#: :meth:`Database.reading_only` and the requests' read sessions (their transactions only read
#: and end in a rollback): for what a transaction leaves for its commit, which these never make.
READ_ONLY_SESSION = "joinedup.read_only"


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
        self.read_session_factory = sessionmaker(
            self.read_engine, expire_on_commit=False, info={READ_ONLY_SESSION: True}
        )
        self._commit_watcher: CommitWatcher | None = None
        self._watcher_lock = threading.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def watch_outbox_commits(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (in another thread: quick and thread-safe) whenever any process
        commits events to the outbox, where the database tells: PostgreSQL's ``NOTIFY``
        (:mod:`joinedup.core.pg_notify`; one listening connection per :class:`Database`,
        opened on first use, closed by :meth:`dispose`). Elsewhere nothing (SQLite's processes
        tell each other through :mod:`joinedup.core.wakeups`). Returns what removes it."""
        if self.dialect != "postgresql":
            return _not_watching
        from joinedup.core.pg_notify import CommitWatcher  # (psycopg: PostgreSQL only)

        with self._watcher_lock:
            if self._commit_watcher is None:
                self._commit_watcher = CommitWatcher(self.url)
            return self._commit_watcher.add(listener)

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

    def analyze_after_bulk_load(self) -> None:
        """After loading many rows at once (a country seeded, a register imported), have
        PostgreSQL read its statistics of every table again (``ANALYZE``) rather than wait for
        autovacuum, which gets to a table a minute or more after it grew: until then the
        planner takes a table just loaded for an empty one, and plans a join of two of them as
        a loop over both (a re-evaluation's extract of 50,000 persons ran for minutes right
        after a 100,000-person load, instead of well under a second). SQLite: nothing (its
        queries here were chosen and measured for its planner without statistics)."""
        if self.dialect != "postgresql":
            return
        with self.engine.begin() as connection:
            connection.execute(text("ANALYZE"))

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
        with self._watcher_lock:
            watcher, self._commit_watcher = self._commit_watcher, None
        if watcher is not None:
            watcher.stop()
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def _not_watching() -> None:
    """Removes nothing (nothing was watched)."""


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
    if transaction is None:  # not begun: begin it now, as the read that fills the memo would
        session.connection()  # (else the memo began under no transaction, and was thrown
        transaction = session.get_transaction()  # away when the next lookup found one)
    memo = session.info.get(key)
    if memo is None or memo[0] is not transaction:
        memo = session.info[key] = (transaction, {})
    found: dict[Any, Any] = memo[1]
    return found
