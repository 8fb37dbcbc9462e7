"""On PostgreSQL a commit of outbox rows in any process wakes the relays at once (``NOTIFY`` from
the outbox's trigger, ``LISTEN`` in :class:`~joinedup.core.pg_notify.CommitWatcher`), not at
their next poll; a rolled-back transaction wakes nobody."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from bus_harness import ThingHappened, bus_url_fixture, open_stack  # noqa: F401 (fixture)
from psycopg.types.json import Jsonb
from sqlalchemy import func, select

from joinedup.core.bus import create_bus
from joinedup.core.db import Database
from joinedup.core.outbox import OutboxEvent
from joinedup.core.pg_notify import connect_kwargs
from joinedup.core.relay import Relay
from joinedup.core.settings import Settings

#: PostgreSQL only: the ``database`` fixture (migrated, emptied after each test) on its
#: PostgreSQL parameter alone.
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.parametrize("database", ["postgres"], indirect=True),
]


@pytest.fixture(name="pg")
def pg_fixture(database: Database) -> Database:
    return database


def insert_elsewhere(url: str, *, commit: bool) -> None:
    """An outbox row written as another process would: its own connection, not this
    process's units of work (whose commits wake this process's relay by themselves)."""
    with psycopg.connect(**connect_kwargs(url)) as connection:
        connection.execute(
            "INSERT INTO outbox_event (event_id, name, payload, occurred_at, recorded_at) "
            "VALUES (%s, %s, %s, now(), now())",
            (uuid.uuid4(), ThingHappened.name, Jsonb({"n": 1})),
        )
        if commit:
            connection.commit()
        else:
            connection.rollback()


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_a_commit_elsewhere_calls_the_listeners_and_a_rollback_does_not(pg: Database) -> None:
    calls: list[float] = []
    called = threading.Event()

    def listener() -> None:
        calls.append(time.monotonic())
        called.set()

    remove = pg.watch_outbox_commits(listener)
    watcher = pg._commit_watcher
    assert watcher is not None
    assert watcher.listening.wait(10)
    assert wait_for(lambda: len(calls) == 1)  # once when it starts listening
    insert_elsewhere(pg.url, commit=False)
    time.sleep(0.5)
    assert len(calls) == 1  # a transaction rolled back notifies nobody
    insert_elsewhere(pg.url, commit=True)
    assert wait_for(lambda: len(calls) == 2)
    assert watcher.received == 1
    remove()
    insert_elsewhere(pg.url, commit=True)
    assert wait_for(lambda: watcher.received == 2)
    assert len(calls) == 2  # removed: not called
    pg.dispose()
    assert not watcher.listening.is_set()


def test_one_notification_per_transaction_however_many_statements(pg: Database) -> None:
    calls: list[int] = []
    pg.watch_outbox_commits(lambda: calls.append(1))
    watcher = pg._commit_watcher
    assert watcher.listening.wait(10)
    with psycopg.connect(**connect_kwargs(pg.url)) as connection:
        for n in range(3):
            connection.execute(
                "INSERT INTO outbox_event (event_id, name, payload, occurred_at, recorded_at) "
                "VALUES (%s, %s, %s, now(), now())",
                (uuid.uuid4(), ThingHappened.name, Jsonb({"n": n})),
            )
        connection.commit()
    assert wait_for(lambda: watcher.received == 1)
    time.sleep(0.3)
    assert watcher.received == 1
    with pg.engine.connect() as connection:  # (PostgreSQL folds a transaction's identical
        # notifications anyway: the trigger itself is per statement, not per row)
        (kind,) = connection.exec_driver_sql(
            "SELECT tgtype FROM pg_trigger WHERE tgname = 'outbox_event_notify'"
        ).one()
    assert kind & 1 == 0  # TRIGGER_TYPE_ROW unset: FOR EACH STATEMENT


def test_the_relay_wakes_at_another_processs_commit_not_at_its_poll(
    pg: Database, settings: Settings, bus_url: str
) -> None:
    """A relay polling once a minute publishes a row another process committed within
    seconds: only the notification can wake it (the in-process commit hook does not see a
    commit made elsewhere). On both buses."""
    with open_stack(settings, pg, bus_url) as stack:

        async def scenario() -> float:
            bus = create_bus(stack.settings, pg)
            await bus.connect()
            stop = asyncio.Event()
            relay = Relay(pg, bus, poll_interval=60.0)
            running = asyncio.create_task(relay.run(stop))
            try:
                listening = lambda: (  # noqa: E731
                    pg._commit_watcher is not None and pg._commit_watcher.listening.is_set()
                )
                assert await asyncio.to_thread(wait_for, listening)
                await asyncio.sleep(0.3)  # the relay found nothing and waits for its poll
                started = time.monotonic()
                await asyncio.to_thread(insert_elsewhere, pg.url, commit=True)
                while _published(pg) < 1 and time.monotonic() - started < 20:
                    await asyncio.sleep(0.02)
                assert _published(pg) == 1
                return time.monotonic() - started
            finally:
                stop.set()
                await running
                await bus.close()

        assert asyncio.run(scenario()) < 10.0  # (its poll: 60 s)


def _published(database: Database) -> int:
    with database.reading() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.published_at.is_not(None))
            )
            or 0
        )


def test_a_listener_that_fails_to_connect_tries_again(
    pg: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the first connection attempt raises (not only the driver's errors), the
    thread lives on and listens after its pause."""
    from joinedup.core import pg_notify

    real_connect = psycopg.connect
    attempts: list[int] = []

    def connect(*args: Any, **kwargs: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("not this time")
        return real_connect(*args, **kwargs)

    # (the listener's own module only: the pool's connections are not concerned)
    monkeypatch.setattr(pg_notify, "psycopg", SimpleNamespace(connect=connect))
    pg.watch_outbox_commits(lambda: None)
    watcher = pg._commit_watcher
    assert watcher is not None
    assert watcher.listening.wait(10)
    assert len(attempts) == 2
