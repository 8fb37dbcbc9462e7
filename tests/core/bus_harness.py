"""What the outbox, relay, bus, consumer and worker tests share.

A *stack* is a migrated database (SQLite or PostgreSQL) plus a bus (in-process or NATS
JetStream, on a stream of its own that is deleted afterwards), with a scratch table
``bus_test_effect`` that test handlers write one row per handled event into: counting its
rows per event proves "exactly once". The table lives outside the application's metadata,
so ``alembic check`` never sees it.

``worker_process.py`` imports this module too (it runs as a script from this directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import nats
import nats.js.errors
import pytest
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.consumers import ConsumerRegistry, consumer
from joinedup.core.db import Database
from joinedup.core.events import Delivered, Event, emit_many
from joinedup.core.outbox import OutboxEvent
from joinedup.core.settings import Settings
from joinedup.core.worker import EmbeddedWorkers

HERE = Path(__file__).resolve().parent

scratch = MetaData()
effect = Table(
    "bus_test_effect",
    scratch,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("event_name", String(200), nullable=False),
    Column("stream_seq", BigInteger, nullable=False),
    Column("n", Integer, nullable=False),
)


def published(database: Database, names: list[str], first: int = 1) -> None:
    """Outbox rows as the relay leaves them: published, numbered from ``first``, one per name
    (the payload ``{"n": <its number>}``)."""
    now = utcnow()
    with database.unit_of_work() as session:
        session.add_all(
            OutboxEvent(
                event_id=uuid.uuid4(),
                name=name,
                payload={"n": seq},
                occurred_at=now,
                recorded_at=now,
                stream_seq=seq,
                published_at=now,
            )
            for seq, name in enumerate(names, start=first)
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ThingHappened(Event):
    name: ClassVar[str] = "test.thing_happened.v1"
    n: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class OtherThingHappened(Event):
    name: ClassVar[str] = "test.other_thing_happened.v1"
    n: int


def record_effect(consumer_name: str) -> Callable[[Session, Delivered], None]:
    """A handler that writes one ``bus_test_effect`` row for the event it handles."""

    def handle(session: Session, event: Delivered) -> None:
        session.execute(
            effect.insert().values(
                consumer=consumer_name,
                event_id=str(event.event_id),
                event_name=event.name,
                stream_seq=event.stream_seq,
                n=event.payload["n"],
            )
        )

    return handle


def registry_of(subscriptions: dict[str, Iterable[str]]) -> ConsumerRegistry:
    """A registry whose consumers (name → event names) each record their effects."""
    registry = ConsumerRegistry()
    for name, events in subscriptions.items():
        consumer(name, events=events, into=registry)(record_effect(name))
    return registry


@dataclasses.dataclass
class Stack:
    settings: Settings
    database: Database
    backend: str  # "inprocess" or "nats"

    @property
    def uses_nats(self) -> bool:
        return self.backend == "nats"

    def emit(self, events: list[Event], *, per_transaction: int = 100) -> list[uuid.UUID]:
        ids: list[uuid.UUID] = []
        for start in range(0, len(events), per_transaction):
            with self.database.unit_of_work() as session:
                ids += emit_many(session, events[start : start + per_transaction])
        return ids

    def effects(self, consumer_name: str | None = None) -> list[Any]:
        statement = select(effect).order_by(effect.c.id)
        if consumer_name is not None:
            statement = statement.where(effect.c.consumer == consumer_name)
        with self.database.reading() as session:
            return list(session.execute(statement).all())

    def effect_count(self) -> int:
        with self.database.reading() as session:
            return int(session.scalar(select(func.count()).select_from(effect)) or 0)

    def published_count(self) -> int:
        with self.database.reading() as session:
            published = OutboxEvent.published_at.is_not(None)
            return int(
                session.scalar(select(func.count()).select_from(OutboxEvent).where(published)) or 0
            )

    def stream_order(self) -> list[tuple[int, uuid.UUID, str]]:
        """The published outbox as (stream_seq, event_id, name), in stream order."""
        with self.database.reading() as session:
            rows = session.execute(
                select(OutboxEvent.stream_seq, OutboxEvent.event_id, OutboxEvent.name)
                .where(OutboxEvent.stream_seq.is_not(None))
                .order_by(OutboxEvent.stream_seq)
            ).all()
        return [(int(seq), event_id, name) for seq, event_id, name in rows]

    def stream_messages(self) -> int | None:
        """How many messages the JetStream stream holds (None on the in-process bus)."""
        if not self.uses_nats:
            return None
        return asyncio.run(_stream_messages(self.settings))

    def workers(self, registry: ConsumerRegistry, **options: Any) -> EmbeddedWorkers:
        return EmbeddedWorkers(self.settings, self.database, consumers_from=registry, **options)

    def run_until(
        self,
        registry: ConsumerRegistry,
        done: Callable[[], bool],
        *,
        timeout: float = 20.0,
        **options: Any,
    ) -> None:
        """Run workers in this process until ``done()`` holds (checked in a thread)."""

        async def main() -> None:
            workers = self.workers(registry, **options)
            await workers.start()
            try:
                await wait_until(done, timeout=timeout)
            finally:
                await workers.stop()

        asyncio.run(main())


async def wait_until(done: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(done):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        await asyncio.sleep(0.05)


def poll_until(done: Callable[[], bool], *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout} s")
        time.sleep(0.05)


def stack_settings(base: Settings, database: Database, bus_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": base.data_dir,
        "log_format": "console",
        "database_url": database.url,
        "bus_url": bus_url,
        "nats_stream": f"TEST_{uuid.uuid4().hex[:12].upper()}",
        "bus_ack_wait": 2.0,
        "bus_retry_delay": 0.05,
        "bus_max_deliveries": 3,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.contextmanager
def open_stack(base: Settings, database: Database, bus_url: str) -> Iterator[Stack]:
    backend = "nats" if bus_url.startswith("nats") else "inprocess"
    stack = Stack(stack_settings(base, database, bus_url), database, backend)
    scratch.create_all(database.engine)
    try:
        yield stack
    finally:
        scratch.drop_all(database.engine)
        if stack.uses_nats:
            # (imported here: worker_process.py and other subprocesses import this module
            # with only tests/core on their path)
            from nats_support import delete_stream

            delete_stream(stack.settings.bus_url, stack.settings.nats_stream)


async def _stream_messages(settings: Settings) -> int:
    nc = await nats.connect(settings.bus_url)
    try:
        info = await nc.jetstream().stream_info(settings.nats_stream)
        return int(info.state.messages)
    finally:
        await nc.close()


@pytest.fixture(name="bus_url", params=["inprocess", pytest.param("nats", marks=pytest.mark.nats)])
def bus_url_fixture(request: pytest.FixtureRequest) -> str:
    """Each bus backend: in-process, and NATS JetStream (marked ``nats``)."""
    if request.param == "inprocess":
        return "inprocess://"
    return str(request.getfixturevalue("nats_url"))


@pytest.fixture(name="stack")
def stack_fixture(settings: Settings, database: Database, bus_url: str) -> Iterator[Stack]:
    """Every database × every bus: import ``stack_fixture`` and ``bus_url_fixture``."""
    with open_stack(settings, database, bus_url) as stack:
        yield stack


@pytest.fixture(name="effects")
def effects_fixture(database: Database) -> Iterator[Database]:
    """The ``database`` with the scratch ``bus_test_effect`` table (dropped afterwards)."""
    scratch.create_all(database.engine)
    try:
        yield database
    finally:
        scratch.drop_all(database.engine)


def effect_ns(database: Database) -> list[int]:
    """The ``n`` of every recorded effect, in the order they were written."""
    with database.reading() as session:
        return [int(n) for n in session.scalars(select(effect.c.n).order_by(effect.c.id))]


class WorkerProcess:
    """``worker_process.py`` in a subprocess, reporting ``@@`` lines on its stdout."""

    def __init__(self, stack: Stack, log_path: Path, *arguments: str) -> None:
        env = {
            **os.environ,
            "JOINEDUP_ENVIRONMENT": "test",
            "JOINEDUP_DATA_DIR": str(stack.settings.data_dir),
            "JOINEDUP_DATABASE_URL": stack.settings.resolved_database_url,
            "JOINEDUP_BUS_URL": stack.settings.bus_url,
            "JOINEDUP_NATS_STREAM": stack.settings.nats_stream,
            "JOINEDUP_BUS_ACK_WAIT": str(stack.settings.bus_ack_wait),
            "JOINEDUP_BUS_RETRY_DELAY": str(stack.settings.bus_retry_delay),
            "JOINEDUP_BUS_MAX_DELIVERIES": str(stack.settings.bus_max_deliveries),
            "JOINEDUP_LOG_FORMAT": "console",
        }
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "worker_process.py"), *arguments],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("@@"):
                self._lines.put(line[2:].strip())

    def wait_for(self, prefix: str, *, timeout: float = 30.0) -> str:
        """The next report starting with ``prefix`` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the worker never reported {prefix!r}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self._finish(timeout=10)

    def terminate(self) -> int:
        """SIGTERM (a graceful stop) and its exit code."""
        self.process.send_signal(signal.SIGTERM)
        return self._finish(timeout=30)

    def _finish(self, *, timeout: float) -> int:
        try:
            code = self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=5)
            if self.process.stdout is not None:
                self.process.stdout.close()
            self._log.close()
        return code
