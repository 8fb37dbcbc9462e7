"""Workers: the outbox relay and one consume loop per registered consumer.

``joinedup worker`` runs :func:`run_worker` until SIGTERM or SIGINT; ``joinedup demo`` runs
the same :class:`EmbeddedWorkers` inside the web process. Any number of worker processes
may run at once: relays serialise on a database lock, consumers compete for messages on
JetStream and, on the embedded bus, each consumer runs in whichever process holds its lease.

Every loop is supervised: if it fails (the database or NATS is away) the failure is logged
and the loop starts again after a growing pause, so a worker outlives its dependencies'
outages. Stopping is cooperative: loops finish the delivery they are in, record their
position and return.
"""

from __future__ import annotations

import asyncio
import functools
import signal
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.core.bus import Bus, create_bus, wait_any
from joinedup.core.clock import utcnow
from joinedup.core.consumers import ConsumerRegistry, registry
from joinedup.core.db import Database
from joinedup.core.handling import EventHandling
from joinedup.core.loops import LoopRegistry
from joinedup.core.loops import registry as loop_registry
from joinedup.core.outbox import ConsumerCursor, DeadLetter, InboxEvent, OutboxEvent
from joinedup.core.relay import Relay
from joinedup.core.schedule import JobRegistry, run_schedule
from joinedup.core.settings import Settings
from joinedup.core.sqlite import set_writer_priority

log = structlog.get_logger(__name__)

#: Pause before a failed loop starts again, doubling up to the maximum.
RESTART_DELAY, MAX_RESTART_DELAY = 1.0, 30.0


class EmbeddedWorkers:
    """The relay and the consumers, as tasks in the running event loop.

    ``consumers`` limits which registered consumers run (default: all); ``relay=False``
    leaves relaying to other processes. ``consumers_from`` replaces the default registry
    (the handlers of every context) with another one; ``schedule=False`` leaves the daily
    jobs (:mod:`joinedup.core.schedule`) to other processes, ``jobs_from`` replaces their
    registry. ``loops_from`` are the worker loops to run (:mod:`joinedup.core.loops`; default:
    every registered loop, unless ``consumers_from`` replaces the consumers, then none).
    ``bus`` shares a bus the caller connected and closes (default: a bus of their own from
    the settings).
    """

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        relay: bool = True,
        consumers: Collection[str] | None = None,
        consumers_from: ConsumerRegistry | None = None,
        bus: Bus | None = None,
        relay_batch_size: int = 500,
        schedule: bool = True,
        jobs_from: JobRegistry | None = None,
        loops_from: LoopRegistry | None = None,
    ) -> None:
        self.settings = settings
        self.database = database
        self.run_relay = relay
        self.relay_batch_size = relay_batch_size
        self.only = None if consumers is None else frozenset(consumers)
        self.registry = consumers_from
        # A replaced consumer registry replaces the platform's handlers: its daily jobs too,
        # unless jobs are given with it.
        self.run_schedule = schedule and (consumers_from is None or jobs_from is not None)
        self.jobs = jobs_from
        self.loops_from = loops_from
        self.bus = bus
        self._owns_bus = bus is None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Connect the bus and start the loops; returns once they run."""
        # The composition root imports every context's handlers before workers start
        # (``joinedup.platform.handler_modules()``); core itself knows no context.
        known = self.registry if self.registry is not None else registry
        chosen = [c for c in known if self.only is None or c.name in self.only]
        if self.only is not None and len(chosen) != len(self.only):
            missing = sorted(self.only - {c.name for c in chosen})
            raise ValueError(f"no consumer registered as {', '.join(missing)}")
        if self.bus is None:
            self.bus = create_bus(self.settings, self.database)
        bus = self.bus
        if self._owns_bus:
            await bus.connect()
        self._stop.clear()
        if self.run_relay:
            relay = Relay(self.database, bus, batch_size=self.relay_batch_size)
            self._spawn("relay", lambda: relay.run(self._stop))
        for consumer in chosen:
            handling = EventHandling(
                self.database,
                consumer,
                max_attempts=self.settings.bus_max_deliveries,
                retry_delay=self.settings.bus_retry_delay,
            )
            consume: Callable[[], Awaitable[None]]
            if consumer.batch is None:
                consume = functools.partial(
                    bus.consume, consumer.name, consumer.events, handling, self._stop
                )
            else:
                consume = functools.partial(
                    bus.consume_batches,
                    consumer.name,
                    consumer.events,
                    handling.handle_batch,
                    self._stop,
                    batch_size=consumer.batch,
                )
            self._spawn(f"consumer:{consumer.name}", consume)
        loops = list(self._loops())
        for found in loops:
            run = functools.partial(found.run, self.settings, self.database, self._stop)
            self._spawn(f"loop:{found.name}", run)
        if self.run_schedule:
            # Daily jobs claim their day in the database: any number of workers may run them.
            self._spawn(
                "schedule",
                lambda: run_schedule(self.database, self._stop, registry=self.jobs),
            )
        log.info(
            "workers_started",
            bus=self.settings.bus_url.split("://", 1)[0],
            relay=self.run_relay,
            consumers=[c.name for c in chosen],
            loops=[loop.name for loop in loops],
        )

    def _loops(self) -> LoopRegistry:
        if self.loops_from is not None:
            return self.loops_from
        if self.registry is not None:  # consumers of the caller's own: no default loops
            return LoopRegistry()
        return loop_registry

    async def stop(self, timeout: float = 15.0) -> None:
        """Ask every loop to finish, wait up to ``timeout`` seconds, then close the bus."""
        self._stop.set()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        self._tasks.clear()
        if self.bus is not None and self._owns_bus:
            await self.bus.close()
            self.bus = None
        log.info("workers_stopped")

    def _spawn(self, what: str, run: Callable[[], Awaitable[None]]) -> None:
        self._tasks.append(asyncio.create_task(self._supervise(what, run), name=what))

    async def _supervise(self, what: str, run: Callable[[], Awaitable[None]]) -> None:
        delay = RESTART_DELAY
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                await run()
            except Exception:
                if time.monotonic() - started > 60:
                    delay = RESTART_DELAY  # it ran well for a while: a new failure
                log.exception("worker_loop_failed", loop=what, restart_in=delay)
            else:
                if self._stop.is_set():
                    return
                log.warning("worker_loop_returned", loop=what, restart_in=delay)
            if await wait_any(self._stop, timeout=delay):
                return
            delay = min(delay * 2, MAX_RESTART_DELAY)


@dataclass(frozen=True)
class WorkerShare:
    """What one of several worker processes runs: ``consumers`` (None: all), and whether it
    runs the relay, the loops and the daily jobs too.

    A busy consumer (the births, under a wave of registrations) can have a process of its
    own: one process ``--only`` it, another ``--without`` it. Each consumer runs in one process
    at a time anyway (its lease, or its durable consumer on JetStream); splitting them only
    decides which, so that their work is spread over the cores instead of sharing one
    process's interpreter lock."""

    consumers: frozenset[str] | None = None
    #: The relay, the loops and the daily jobs (all three, or none: ``--only``).
    background: bool = True

    @classmethod
    def of(
        cls,
        known: Sequence[str],
        *,
        only: Sequence[str] | None = None,
        without: Sequence[str] | None = None,
    ) -> WorkerShare:
        """The share of ``--only`` (those consumers and nothing else) or ``--without`` (all
        but those); ``ValueError`` for both, for an empty ``--only`` or a name not in
        ``known``."""
        if only is not None and without is not None:
            raise ValueError("give --only or --without, not both")
        named = list(only if only is not None else without or ())
        unknown = sorted(set(named) - set(known))
        if unknown:
            raise ValueError(
                f"no consumer is named {', '.join(unknown)}; the consumers are "
                f"{', '.join(sorted(known))}"
            )
        if only is not None:
            if not named:
                raise ValueError("--only needs at least one consumer")
            return cls(frozenset(named), background=False)
        if without:
            return cls(frozenset(known) - frozenset(named))
        return cls()


async def run_worker(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    relay: bool = True,
    consumers: Collection[str] | None = None,
    consumers_from: ConsumerRegistry | None = None,
    jobs_from: JobRegistry | None = None,
    loops_from: LoopRegistry | None = None,
    share: WorkerShare | None = None,
) -> None:
    """Run the relay, the consumers, the daily jobs and the loops until ``stop`` is set or
    SIGTERM/SIGINT arrives. ``share``: this process's part of the work (it replaces
    ``relay`` and ``consumers``; see :class:`WorkerShare`)."""
    schedule = True
    if share is not None:
        relay, consumers, schedule = share.background, share.consumers, share.background
        if not share.background:
            loops_from = LoopRegistry()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled_signals = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
            handled_signals.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals here
            pass
    set_writer_priority(settings.sqlite_writer_priority)
    database = Database(settings.resolved_database_url, pool_size=settings.database_pool_size)
    workers = EmbeddedWorkers(
        settings,
        database,
        relay=relay,
        consumers=consumers,
        consumers_from=consumers_from,
        jobs_from=jobs_from,
        loops_from=loops_from,
        schedule=schedule,
    )
    # Every loop runs its database work in a thread: give each one of its own.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=settings.database_pool_size + 4))
    checkpointer = database.checkpoint_in_background()
    try:
        await workers.start()
        await stop.wait()
    finally:
        await workers.stop()
        if checkpointer is not None:
            await asyncio.to_thread(checkpointer.stop)
        database.dispose()
        for signum in handled_signals:
            loop.remove_signal_handler(signum)


def bus_status(session: Session, *, consumers: ConsumerRegistry | None = None) -> dict[str, Any]:
    """The relay's lag and every consumer's progress, for readiness checks and monitoring.

    ``relay.unpublished`` events wait for the relay, the oldest for ``oldest_unpublished_age_s``;
    ``stream.head`` is the last published ``stream_seq``. Per consumer: ``handled_up_to`` (the
    highest ``stream_seq`` it handled), on the embedded bus its ``position``, ``pending``
    events and lease, and its ``dead_letters`` waiting for an operator.
    """
    unpublished = OutboxEvent.published_at.is_(None)
    waiting = session.scalar(select(func.count()).select_from(OutboxEvent).where(unpublished))
    oldest = session.scalar(
        select(OutboxEvent.recorded_at).where(unpublished).order_by(OutboxEvent.id).limit(1)
    )
    head = session.scalar(select(func.max(OutboxEvent.stream_seq))) or 0
    cursors = {c.consumer: c for c in session.scalars(select(ConsumerCursor))}
    parked: dict[str, int] = {
        consumer: int(count)
        for consumer, count in session.execute(
            select(DeadLetter.consumer, func.count())
            .where(DeadLetter.replayed_at.is_(None))
            .group_by(DeadLetter.consumer)
        )
    }
    names = (
        {c.name for c in (registry if consumers is None else consumers)}
        | cursors.keys()
        | parked.keys()
    )
    report: dict[str, Any] = {}
    for name in sorted(names):
        entry: dict[str, Any] = {
            "handled_up_to": session.scalar(
                select(func.max(InboxEvent.stream_seq)).where(InboxEvent.consumer == name)
            ),
            "dead_letters": parked.get(name, 0),
        }
        cursor = cursors.get(name)
        if cursor is not None:
            entry |= {
                "position": cursor.position,
                "pending": max(head - cursor.position, 0),
                "lease_owner": cursor.lease_owner,
                "lease_expires_at": cursor.lease_expires_at.isoformat()
                if cursor.lease_expires_at
                else None,
            }
        report[name] = entry
    age = None if oldest is None else round((utcnow() - oldest).total_seconds(), 3)
    return {
        "relay": {"unpublished": waiting or 0, "oldest_unpublished_age_s": age},
        "stream": {"head": head},
        "consumers": report,
    }
