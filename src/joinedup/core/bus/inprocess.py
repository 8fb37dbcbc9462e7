"""The embedded bus: the outbox table is the stream, a cursor row per consumer its position.

Published events are the outbox rows the relay gave a ``stream_seq``; a consumer reads them
in that order from its durable position in ``bus_consumer_cursor``. The position moves only
after the events before it were handled and committed, so a consumer that dies resumes from
there and the inbox turns the few redelivered events into no-ops.

One process at a time consumes for a given consumer: the cursor row carries a lease
(``lease_owner`` until ``lease_expires_at``) that the holder renews whenever it moves the
position and that another process takes over once it expires. Several worker processes can
therefore run against one database; each consumer runs in whichever holds its lease.

The relay wakes consumers in its own process through :meth:`InProcessBus.published`. The
processes sharing a SQLite file wake each other too (:mod:`joinedup.core.wakeups`): a
commit of events wakes the relay of another process (:meth:`InProcessBus.watch_commits`), a
publication the consumers of the others. Consumers also poll, so events relayed by another
process arrive within ``poll_interval`` if a wake-up is lost.

A process's consumers share their reads of the head of the stream (:class:`_Window`): after a
publication every consumer wakes, the first reads the new events (payloads and all) and the
others take them from memory — one query per publication, not one per consumer. Published
rows do not change, so what one consumer read is what any other would read. A consumer far
behind reads for itself, only the payloads of its own events.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy import BigInteger, Select, bindparam, case, null, select, text, update

from joinedup.core.bus import (
    BatchDeliveryHandler,
    DeliveryHandler,
    Outcome,
    not_watching,
    wait_any,
)
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.events import Delivered, on_outbox_commit
from joinedup.core.outbox import ConsumerCursor, OutboxEvent, insert_or_ignore
from joinedup.core.sqlite import sqlite_file
from joinedup.core.wakeups import OUTBOX, PUBLISHED, LocalWakeups

log = structlog.get_logger(__name__)

#: Events read per query.
READ_BATCH = 500
#: Longest a handled position stays unrecorded (bounds redelivery); it is recorded no more
#: often than this, so a busy consumer takes the write lock for it twice a second at most.
FLUSH_INTERVAL = 0.5
#: Published events a process keeps for its consumers to share (the head of the stream).
WINDOW = 4 * READ_BATCH


@dataclass(frozen=True)
class _Lease:
    """Who consumes what under a lease."""

    consumer: str
    owner: str
    names: frozenset[str]
    batch_size: int


def read_statement(after: int, names: frozenset[str]) -> Select[Any]:
    """The next :data:`READ_BATCH` published events after the position ``after``: each
    with whether it is named in ``names`` (``wanted``) and, only then, its payload."""
    return _read_statement(names).params(after=after)


@lru_cache(maxsize=256)
def _read_statement(names: frozenset[str]) -> Select[Any]:
    """The statement of :func:`read_statement` for ``names``, built once (the position is a
    parameter): every consumer reads after every publication."""
    wanted = OutboxEvent.name.in_(sorted(names))
    return (
        select(
            OutboxEvent.stream_seq,
            wanted.label("wanted"),
            OutboxEvent.event_id,
            OutboxEvent.name,
            case((wanted, OutboxEvent.payload), else_=null()).label("payload"),
            OutboxEvent.occurred_at,
        )
        .where(OutboxEvent.stream_seq > bindparam("after", type_=BigInteger))
        .order_by(OutboxEvent.stream_seq)
        .limit(READ_BATCH)
    )


@lru_cache(maxsize=16)
def _read_all_statement(subscribed: frozenset[str]) -> Select[Any]:
    """The next :data:`READ_BATCH` published events after the position ``after`` (read once
    for every consumer of the process), the payloads of those named in ``subscribed`` (what
    the process's consumers handle) and no other: a process decodes only what it handles."""
    wanted = OutboxEvent.name.in_(sorted(subscribed))
    return (
        select(
            OutboxEvent.stream_seq,
            OutboxEvent.event_id,
            OutboxEvent.name,
            case((wanted, OutboxEvent.payload), else_=null()).label("payload"),
            OutboxEvent.occurred_at,
        )
        .where(OutboxEvent.stream_seq > bindparam("after", type_=BigInteger))
        .order_by(OutboxEvent.stream_seq)
        .limit(READ_BATCH)
    )


#: A consumer's position recorded and its lease renewed, if it is still the owner's: built
#: once (a writer's turn of every consumer at most twice a second, and building it was most
#: of one), and without the ORM's look for the row among the session's objects (a session of
#: its own holds none: about a third of the rest).
_ADVANCE = (
    update(ConsumerCursor)
    .where(
        ConsumerCursor.consumer == bindparam("the_consumer"),
        ConsumerCursor.lease_owner == bindparam("the_owner"),
    )
    .values(
        position=bindparam("new_position"),
        attempts=bindparam("new_attempts"),
        lease_expires_at=bindparam("expires"),
        updated_at=bindparam("now"),
    )
    .execution_options(synchronize_session=False)
)


def _delivered(row: Any) -> Delivered:
    """An outbox row as read by the statements above (an event whose payload was not read:
    with none, ``{}``; no consumer that reads it is handed it)."""
    return Delivered(
        event_id=row.event_id,
        name=row.name,
        payload=row.payload if row.payload is not None else {},
        occurred_at=row.occurred_at,
        stream_seq=row.stream_seq,
    )


class _Window:
    """The published events a process read last, a run of the stream without gaps: every
    event after ``start`` up to the last one held, as the stream had them when read (a
    published event does not change, and the events after a position are read in order, so
    a read made later would find the same ones there). At most ``capacity`` events; the
    oldest go first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.start = 0
        self.seqs: list[int] = []
        self.events: list[Delivered] = []

    def read(self, after: int, names: frozenset[str]) -> tuple[list[Delivered], int | None] | None:
        """What :meth:`InProcessBus._read` would answer, when the window holds it (None: it
        does not — ``after`` is before the window, or at or past its end)."""
        if not self.seqs or after < self.start or after >= self.seqs[-1]:
            return None
        first = bisect.bisect_right(self.seqs, after)
        end = min(first + READ_BATCH, len(self.seqs))
        return [e for e in self.events[first:end] if e.name in names], self.seqs[end - 1]

    def add(self, after: int, events: Sequence[Delivered]) -> None:
        """Events read after ``after`` (in order, none left out before the last): they extend
        the window when they follow on from it, else start it afresh when they are newer."""
        if not events:
            return
        if self.seqs and after == self.seqs[-1]:
            self.seqs.extend(e.stream_seq for e in events)
            self.events.extend(events)
        elif not self.seqs or after > self.seqs[-1]:
            self.start = after
            self.seqs = [e.stream_seq for e in events]
            self.events = list(events)
        else:
            return  # older than the head: the window stays where the consumers are
        extra = len(self.seqs) - self.capacity
        if extra > 0:
            self.start = self.seqs[extra - 1]
            del self.seqs[:extra], self.events[:extra]


class LeaseLost(Exception):
    """Another process took over the consumer (this one stalled past its lease)."""


def process_identity() -> str:
    """Who holds a lease: host, process id and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class InProcessBus:
    """The :class:`~joinedup.core.bus.Bus` of the embedded deployment, on the database."""

    carries_events = False  # consumers read the outbox: the relay's commit publishes

    def __init__(
        self,
        database: Database,
        *,
        lease_seconds: float = 30.0,
        poll_interval: float = 0.5,
        window: int = WINDOW,
    ) -> None:
        self.database = database
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self._wakers: set[asyncio.Event] = set()
        self._connected = False
        self._window = _Window(window)
        #: The events this process's consumers handle: the window holds their payloads only
        self._subscribed: frozenset[str] = frozenset()
        self._reading: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._head_reads = 0  # reads at the head begun so far
        self._found_nothing: tuple[int, int] | None = None  # (after, read) that found nothing
        self._wakeups: LocalWakeups | None = None
        self._unwatch: list[Callable[[], None]] = []

    async def connect(self) -> None:
        await asyncio.to_thread(self._ping)
        self._connected = True
        if self._wakeups is None:
            self._open_wakeups()

    def _open_wakeups(self) -> None:
        """The processes sharing a SQLite file wake each other (:mod:`joinedup.core.wakeups`):
        this one signals its commits of events and its relay's publications, and its
        consumers wake at another's publication."""
        wakeups = LocalWakeups.for_database(sqlite_file(self.database.url))
        if wakeups is None:
            return
        try:
            wakeups.open()
        except OSError:  # (a directory not writable, say) polling alone remains
            log.warning("bus_wakeups_unavailable", exc_info=True)
            return
        self._wakeups = wakeups
        self._unwatch = [
            on_outbox_commit(functools.partial(wakeups.signal, OUTBOX)),
            wakeups.listen(PUBLISHED, self._wake_consumers),
        ]

    async def close(self) -> None:
        self._connected = False
        self._wake_consumers()
        for remove in self._unwatch:
            remove()
        self._unwatch = []
        if self._wakeups is not None:
            self._wakeups.close()
            self._wakeups = None

    async def healthy(self) -> bool:
        if not self._connected:
            return False
        try:
            await asyncio.to_thread(self._ping)
        except Exception:  # any failure to reach the database means "not healthy"
            log.warning("bus_unhealthy", bus="inprocess", exc_info=True)
            return False
        return True

    async def publish(self, events: Sequence[Delivered]) -> None:
        """Nothing to send: the relay's own commit of ``stream_seq`` publishes the rows."""

    def published(self) -> None:
        self._wake_consumers()
        if self._wakeups is not None:
            self._wakeups.signal(PUBLISHED)

    def _wake_consumers(self) -> None:
        for waker in self._wakers:
            waker.set()

    def watch_commits(self, listener: Callable[[], None]) -> Callable[[], None]:
        if self._wakeups is None:
            return not_watching
        return self._wakeups.listen(OUTBOX, listener)

    async def consume(
        self,
        consumer: str,
        event_names: Collection[str],
        handler: DeliveryHandler,
        stop: asyncio.Event,
    ) -> None:
        async def one_at_a_time(deliveries: Sequence[tuple[Delivered, int]]) -> list[Outcome]:
            [(event, attempt)] = deliveries
            return [await handler(event, attempt)]

        await self.consume_batches(consumer, event_names, one_at_a_time, stop, batch_size=1)

    async def consume_batches(
        self,
        consumer: str,
        event_names: Collection[str],
        handler: BatchDeliveryHandler,
        stop: asyncio.Event,
        *,
        batch_size: int,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        owner = process_identity()
        names = frozenset(event_names)
        self._subscribe(names)
        wake = asyncio.Event()
        self._wakers.add(wake)
        try:
            while not stop.is_set():
                state = await asyncio.to_thread(self._acquire, consumer, owner)
                if state is None:
                    await wait_any(stop, timeout=min(self.lease_seconds / 2, 5.0))
                    continue
                position, attempts = state
                log.info("consumer_lease_acquired", consumer=consumer, position=position)
                try:
                    await self._consume_leased(
                        _Lease(consumer, owner, names, batch_size),
                        handler,
                        stop,
                        wake,
                        position,
                        attempts,
                    )
                except LeaseLost:
                    log.warning("consumer_lease_lost", consumer=consumer)
        finally:
            self._wakers.discard(wake)
            try:
                await asyncio.to_thread(self._release, consumer, owner)
            except Exception:  # the lease then simply expires
                log.warning("consumer_lease_not_released", consumer=consumer, exc_info=True)

    async def _consume_leased(
        self,
        lease: _Lease,
        handler: BatchDeliveryHandler,
        stop: asyncio.Event,
        wake: asyncio.Event,
        position: int,
        attempts: int,
    ) -> None:
        # ``attempts`` counts failures of the first subscribed event after ``position``;
        # (position, attempts) is written together, so after a crash the count carries on.
        # That event is retried alone; the others go in batches of up to ``batch_size``.
        recorded = position
        last_write = time.monotonic()
        names = lease.names

        async def record(new_position: int, new_attempts: int) -> None:
            nonlocal recorded, last_write
            await asyncio.to_thread(
                self._advance, lease.consumer, lease.owner, new_position, new_attempts
            )
            recorded, last_write = new_position, time.monotonic()

        while not stop.is_set():
            wake.clear()
            # only the subscribed events come back (with the last position read): a
            # consumer never decodes the payloads of the events it does not handle
            events, last = await self._next(position, names)
            if last is None:  # nothing new: wait, recording where it stands meanwhile
                since = time.monotonic() - last_write
                if (position != recorded and since > FLUSH_INTERVAL) or (
                    since > self.lease_seconds / 3
                ):
                    await record(position, attempts)
                    since = 0.0
                timeout = self.poll_interval
                if position != recorded:  # (recorded once the interval is over, if still dry)
                    timeout = min(timeout, max(FLUSH_INTERVAL - since, 0.0) + 0.001)
                await wait_any(stop, wake, timeout=timeout)
                continue
            index = 0
            while index < len(events) and not stop.is_set():
                limit = 1 if attempts else lease.batch_size
                end = min(index + limit, len(events))
                deliveries = [
                    (events[at], attempts + 1 if at == index else 1) for at in range(index, end)
                ]
                outcomes = await handler(deliveries)
                failed = next((k for k, o in enumerate(outcomes) if not o.settled), None)
                if failed is not None:
                    # Everything before the failed event is settled: move up to it.
                    bad = index + failed
                    position = max(position, events[bad].stream_seq - 1)
                    attempts = (attempts if failed == 0 else 0) + 1
                    await record(position, attempts)
                    # Wait for the retry, renewing the lease meanwhile.
                    retry_at = time.monotonic() + outcomes[failed].retry_after
                    while (left := retry_at - time.monotonic()) > 0:
                        if await wait_any(stop, timeout=min(left, self.lease_seconds / 3)):
                            return
                        if time.monotonic() - last_write > self.lease_seconds / 3:
                            await record(position, attempts)
                    index = bad
                    continue
                attempts = 0
                position = events[end - 1].stream_seq
                index = end
                if time.monotonic() - last_write > FLUSH_INTERVAL:
                    await record(position, attempts)
            if index < len(events):  # stopping: what is handled is recorded below
                break
            # past the events read that it does not handle, too. The position is recorded
            # (a write transaction of its own, taking the write lock) at most every
            # FLUSH_INTERVAL, here while events flow and above once the stream runs dry: a
            # crash redelivers at most that interval's events, which the inbox makes no-ops
            position = max(position, last)
            if position != recorded and time.monotonic() - last_write > FLUSH_INTERVAL:
                await record(position, attempts)
        if position != recorded:
            await record(position, attempts)

    def _subscribe(self, names: frozenset[str]) -> None:
        """A consumer of ``names`` starts: the window, read for the others, is read again
        with their payloads too when it handles events they do not."""
        if not names <= self._subscribed:
            self._subscribed = self._subscribed | names
            self._window = _Window(self._window.capacity)
            self._found_nothing = None

    async def _next(self, after: int, names: frozenset[str]) -> tuple[list[Delivered], int | None]:
        """What :meth:`_read` answers, from the window the process's consumers share when it
        holds it; at the head of the stream one consumer reads for all (the others wait for
        that read, then find it in the window); far behind the head, each reads for itself."""
        self._subscribe(names)  # (its consumer's subscription, if not taken yet)
        found = self._window.read(after, names)
        if found is not None:
            return found
        if self._window.seqs and after < self._window.start:
            return await asyncio.to_thread(self._read, after, names)
        asked = self._head_reads  # a read begun after this is fresh enough to answer it
        async with self._lock():
            found = self._window.read(after, names)
            if found is not None:
                return found
            if self._found_nothing == (after, self._head_reads) and self._head_reads > asked:
                return [], None
            self._head_reads += 1
            subscribed = self._subscribed
            events = await asyncio.to_thread(self._read_all, after, subscribed)
            if subscribed is self._subscribed:  # (else read for fewer consumers: not kept)
                self._window.add(after, events)
                self._found_nothing = None if events else (after, self._head_reads)
        if not events:
            return [], None
        return [e for e in events if e.name in names], events[-1].stream_seq

    def _lock(self) -> asyncio.Lock:
        """The lock of reads at the head, for the running event loop."""
        loop = asyncio.get_running_loop()
        if self._reading is None or self._reading[0] is not loop:
            self._reading = (loop, asyncio.Lock())
        return self._reading[1]

    # -- database work, run in a thread -----------------------------------------------------

    def _ping(self) -> None:
        with self.database.reading() as session:
            session.execute(text("SELECT 1"))

    def _acquire(self, consumer: str, owner: str) -> tuple[int, int] | None:
        """Take (or keep) the consumer's lease; its (position, attempts), or None if held."""
        now = utcnow()
        with self.database.unit_of_work() as session:
            insert_or_ignore(
                session,
                ConsumerCursor,
                {"consumer": consumer, "position": 0, "attempts": 0, "updated_at": now},
            )
            cursor = session.get(ConsumerCursor, consumer, with_for_update=True)
            assert cursor is not None  # inserted above or already there
            held = cursor.lease_expires_at is not None and cursor.lease_expires_at > now
            if cursor.lease_owner not in (None, owner) and held:
                return None
            cursor.lease_owner = owner
            cursor.lease_expires_at = now + timedelta(seconds=self.lease_seconds)
            cursor.updated_at = now
            return cursor.position, cursor.attempts

    def _advance(self, consumer: str, owner: str, position: int, attempts: int) -> None:
        """Record the position and renew the lease; raises :class:`LeaseLost` if not ours."""
        now = utcnow()
        with self.database.unit_of_work() as session:
            result = session.execute(
                _ADVANCE,
                {
                    "the_consumer": consumer,
                    "the_owner": owner,
                    "new_position": position,
                    "new_attempts": attempts,
                    "expires": now + timedelta(seconds=self.lease_seconds),
                    "now": now,
                },
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise LeaseLost(consumer)

    def _release(self, consumer: str, owner: str) -> None:
        with self.database.unit_of_work() as session:
            session.execute(
                update(ConsumerCursor)
                .where(ConsumerCursor.consumer == consumer, ConsumerCursor.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None, updated_at=utcnow())
            )

    def _read_all(self, after: int, subscribed: frozenset[str]) -> list[Delivered]:
        """Every published event after ``after`` (up to :data:`READ_BATCH`), in order, with
        the payloads of those named in ``subscribed``."""
        with self.database.reading() as session:
            rows = session.execute(_read_all_statement(subscribed), {"after": after}).all()
        return [_delivered(row) for row in rows]

    def _read(self, after: int, names: frozenset[str]) -> tuple[list[Delivered], int | None]:
        """The events after ``after`` (up to :data:`READ_BATCH`) that are named in
        ``names``, and the last position read (None: nothing after ``after``). The payloads
        of the others are not read."""
        with self.database.reading() as session:
            rows = session.execute(_read_statement(names), {"after": after}).all()
        if not rows:
            return [], None
        return [_delivered(row) for row in rows if row.wanted], int(rows[-1].stream_seq)
