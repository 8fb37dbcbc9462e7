"""The outbox and the inbox: events commit with the state that caused them, and every
consumer applies each event once.

- :class:`OutboxEvent` rows are written by use cases in their own transaction.
- The relay assigns ``stream_seq`` (the delivery order) and ``published_at`` after the event
  reached the bus; a row without ``published_at`` has not been published yet.
- :class:`InboxEvent` holds ``(consumer, event_id)`` pairs already handled: a redelivered
  event is acknowledged without being applied again.
- :class:`ConsumerCursor` is the embedded bus's durable consumer position.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base

#: An auto-incrementing 64-bit key (SQLite only auto-increments INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEvent(Base):
    __tablename__ = "outbox_event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]]
    occurred_at: Mapped[datetime]
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
    handled_at: Mapped[datetime]


class ConsumerCursor(Base):
    __tablename__ = "bus_consumer_cursor"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime]
