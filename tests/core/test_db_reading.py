"""Read transactions refuse writes: a write there is an error, never a rollback that hides it
(a member's signing key created and rolled back, then used to sign, left records nobody
could verify)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.outbox import InboxEvent


def _insert(session: Session) -> None:
    session.execute(
        insert(InboxEvent).values(consumer="x", event_id=uuid.uuid4(), handled_at=utcnow())
    )


def test_reading_refuses_a_write_on_sqlite(sqlite_database: Database) -> None:
    with pytest.raises(DBAPIError, match="readonly"), sqlite_database.reading() as session:
        _insert(session)
    # a reader's connection refuses writes for its whole life; the writers' never do
    with sqlite_database.read_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA query_only").scalar() == 1
    with sqlite_database.unit_of_work() as session:
        assert session.execute(text("PRAGMA query_only")).scalar() == 0
        _insert(session)
    with sqlite_database.reading() as session:
        assert session.execute(text("SELECT count(*) FROM inbox_event")).scalar() == 1


def test_reading_only_refuses_a_write(database: Database) -> None:
    """SQLite and PostgreSQL (``READ ONLY``, one snapshot)."""
    with database.reading_only() as session:
        assert session.execute(text("SELECT count(*) FROM inbox_event")).scalar() == 0
        with pytest.raises(DBAPIError):
            _insert(session)
    with database.reading_only() as session:  # and reads again afterwards
        assert session.execute(text("SELECT count(*) FROM inbox_event")).scalar() == 0


def test_a_writer_after_a_read_only_transaction_can_write(database: Database) -> None:
    """On PostgreSQL readers and writers share one pool: the read-only snapshot's settings go
    with its transaction, never to the next writer of that connection."""
    for _ in range(3):  # (the pool hands the same connection back)
        with database.reading_only() as session:
            session.execute(text("SELECT 1"))
        with database.unit_of_work() as session:
            _insert(session)
    with database.reading() as session:
        assert session.execute(text("SELECT count(*) FROM inbox_event")).scalar() == 3
