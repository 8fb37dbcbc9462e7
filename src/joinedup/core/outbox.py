"""The outbox and the inbox: events commit with the state that caused them, and every
consumer applies each event once.

- :class:`OutboxEvent` rows are written by use cases in their own transaction.
- The relay assigns ``stream_seq`` (the delivery order) and ``published_at`` after the event
  reached the bus; a row without ``published_at`` has not been published yet.
- :class:`InboxEvent` holds ``(consumer, event_id)`` pairs already handled: a redelivered
  event is acknowledged without being applied again.
- :class:`ConsumerCursor` is the embedded bus's durable consumer position, with the lease
  that lets one process at a time consume for a consumer.
- :class:`DeadLetter` parks an event a consumer failed to handle after its last attempt,
  until an operator replays it.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Executable,
    Index,
    Integer,
    String,
    UniqueConstraint,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from joinedup.core.db import Base

#: An auto-incrementing 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    #: When the fact happened (may be earlier than the transaction, e.g. a registered birth).
    occurred_at: Mapped[datetime]
    #: When the row was written: the relay's lag is measured from here.
    recorded_at: Mapped[datetime]
    stream_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    published_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "ix_outbox_event_unpublished",
            "id",
            sqlite_where=text("published_at IS NULL"),
            postgresql_where=text("published_at IS NULL"),
        ),
    )


class InboxEvent(Base):
    __tablename__ = "inbox_event"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    #: The event's place in the stream: a consumer's progress is its highest handled one.
    stream_seq: Mapped[int | None] = mapped_column(BigInteger)
    handled_at: Mapped[datetime]

    __table_args__ = (Index("ix_inbox_event_consumer_stream_seq", "consumer", "stream_seq"),)


class ConsumerCursor(Base):
    __tablename__ = "bus_consumer_cursor"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    #: Every event up to this ``stream_seq`` has been handled (or skipped) by the consumer.
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Failed attempts at the first event after ``position`` the consumer subscribes to.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: The process consuming for this consumer, until ``lease_expires_at``.
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class DeadLetter(Base):
    """An event a consumer gave up on. The event itself stays in the outbox (no copy of its
    payload here, which may hold personal data); replaying runs the handler on it again."""

    __tablename__ = "event_dead_letter"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[uuid.UUID]
    name: Mapped[str] = mapped_column(String(200))
    stream_seq: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer)
    #: The last failure: exception type and message, cut to 1,000 characters.
    error: Mapped[str] = mapped_column(String(1000))
    failed_at: Mapped[datetime]
    replayed_at: Mapped[datetime | None]
    replayed_by: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("consumer", "event_id"),)


def insert_or_ignore(session: Session, model: type[Base], values: dict[str, Any]) -> bool:
    """Insert one row unless it conflicts with an existing key; returns whether it was inserted.

    On PostgreSQL a concurrent insert of the same key waits for the other transaction and
    then does nothing, so two processes handling the same event cannot both apply it.
    """
    statement = _insert_or_ignore(model, session.get_bind().dialect.name)
    return session.connection().execute(statement, values).first() is not None


@functools.cache
def _insert_or_ignore(model: type[Base], dialect: str) -> Executable:
    insert: Callable[[type[Base]], postgresql.Insert | sqlite.Insert]
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - the platform runs on SQLite and PostgreSQL only
        raise NotImplementedError(f"insert_or_ignore does not support {dialect}")
    # RETURNING, because drivers do not all report a row count for ON CONFLICT DO NOTHING.
    return insert(model).on_conflict_do_nothing().returning(literal(1))


def outbox_mark(session: Session) -> int:
    """The newest event in the outbox as ``session`` sees it (0: none): with
    :func:`events_after`, what was emitted since. Exact on SQLite, whose transactions commit
    in the order of their ids' allocation (one writer at a time); on PostgreSQL a
    transaction still open may hold a smaller id."""
    return int(session.scalar(select(func.coalesce(func.max(OutboxEvent.id), 0))) or 0)


def events_after(
    session: Session, mark: int, *, prefixes: Sequence[str]
) -> list[tuple[str, dict[str, Any]]]:
    """The name and payload of each event emitted after ``mark`` (:func:`outbox_mark`) whose
    name starts with one of ``prefixes``, oldest first."""
    rows = session.execute(
        select(OutboxEvent.name, OutboxEvent.payload)
        .where(
            OutboxEvent.id > mark,
            or_(*(OutboxEvent.name.startswith(p, autoescape=True) for p in prefixes)),
        )
        .order_by(OutboxEvent.id)
    )
    return [(row.name, row.payload) for row in rows]
