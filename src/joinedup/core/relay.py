"""The outbox relay: publishes committed events to the bus, in order, at least once.

One batch is one transaction: take the oldest unpublished rows (by ``id``), give them the
next ``stream_seq`` numbers, publish them and wait until the bus holds them, then mark them
``published_at`` and commit. A relay killed after publishing and before committing publishes
the same rows again with the same numbers: JetStream drops the copies inside its duplicate
window (the message id is the event id) and consumers' inboxes absorb any that get through.
The in-process bus carries no events (its consumers read the outbox:
:attr:`~joinedup.core.bus.Bus.carries_events`): there the commit is the publishing, and the
relay reads only the rows' ids.

Relays are serialised, so several worker processes may run one each and ``stream_seq`` stays
gap-free and monotonic: on PostgreSQL a transaction-scoped advisory lock (a relay that does
not get it leaves the batch to the one that did), on SQLite the database's single writer lock
(writers begin with ``BEGIN IMMEDIATE``).

``stream_seq`` is the delivery order; it can differ from ``id`` order because transactions
commit in a different order than they take ids, and the relay only ever sees committed rows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from typing import Any, cast

import structlog
from sqlalchemy import Select, Table, func, select
from sqlalchemy.orm import Session

from joinedup.core.bulk_writes import update_rows
from joinedup.core.bus import Bus, setter_from_any_thread, wait_any
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.events import Delivered, on_outbox_commit
from joinedup.core.outbox import OutboxEvent

log = structlog.get_logger(__name__)

#: Shortest time from one batch to the next that is not full: a relay woken by every commit
#: would publish one commit's events at a time.
GATHER_INTERVAL = 0.05

#: The PostgreSQL advisory lock every relay takes ("joinedup" in ASCII).
RELAY_LOCK_KEY = 0x6A6F696E65647570


class Relay:
    """Moves committed outbox rows onto ``bus``; one per worker process is enough."""

    def __init__(
        self,
        database: Database,
        bus: Bus,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.2,
        publish_timeout: float = 30.0,
        wake_on_commit: bool = True,
        gather_interval: float = GATHER_INTERVAL,
    ) -> None:
        self.database = database
        self.gather_interval = gather_interval
        self.wake_on_commit = wake_on_commit
        self.bus = bus
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.publish_timeout = publish_timeout

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until ``stop`` is set; a full batch is followed by the next one at once.

        Between batches it waits for its poll interval or, sooner, for a commit that emitted
        events: in this process (:func:`~joinedup.core.events.on_outbox_commit`) or, where
        the bus or the database tells, in another — the in-process bus on a SQLite file
        (:meth:`~joinedup.core.bus.Bus.watch_commits`), PostgreSQL's ``NOTIFY``
        (:meth:`~joinedup.core.db.Database.watch_outbox_commits`); the poll finds the rest.
        A batch that was not full is followed by the next no sooner than
        ``gather_interval`` after it began, so a busy platform's commits are relayed together."""
        wake = asyncio.Event()
        committed = setter_from_any_thread(wake)  # (called in the committing thread)
        removers = (
            [
                on_outbox_commit(committed),
                self.bus.watch_commits(committed),
                self.database.watch_outbox_commits(committed),
            ]
            if self.wake_on_commit
            else []
        )
        try:
            while not stop.is_set():
                wake.clear()
                began = time.monotonic()
                if await self.relay_once() < self.batch_size:
                    await wait_any(stop, wake, timeout=self.poll_interval)
                    # woken at once by a commit: the commits of the next moments go with it
                    # (a batch each is a write transaction each, and small batches for the
                    # consumers after it)
                    if (gather := began + self.gather_interval - time.monotonic()) > 0:
                        await wait_any(stop, timeout=gather)
        finally:
            for remove in removers:
                remove()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events it published (0 if none waited)."""
        if not await asyncio.to_thread(self._has_unpublished):
            return 0
        loop = asyncio.get_running_loop()
        count = await asyncio.to_thread(self._relay_batch, loop)
        if count:
            self.bus.published()
        return count

    def _has_unpublished(self) -> bool:
        """A read-only look first, so an idle relay never takes the SQLite writer lock."""
        with self.database.reading() as session:
            first = self._unpublished().with_only_columns(OutboxEvent.id).limit(1)
            return session.scalar(first) is not None

    def _relay_batch(self, loop: asyncio.AbstractEventLoop) -> int:
        carries = self.bus.carries_events
        with self.database.unit_of_work() as session:
            if not _take_relay_lock(session):
                return 0
            # a bus that does not carry the events needs only their numbers (no payloads)
            columns = _CARRIED if carries else (OutboxEvent.id,)
            rows = session.execute(self._unpublished().with_only_columns(*columns)).all()
            if not rows:
                return 0
            head = session.scalar(select(func.max(OutboxEvent.stream_seq))) or 0
            if carries:
                events = [
                    Delivered.of(row, stream_seq=head + offset)
                    for offset, row in enumerate(rows, start=1)
                ]
                self._publish(loop, events)
            now = utcnow()
            # one executemany at the driver (a batch is hundreds of rows)
            update_rows(
                session.connection(),
                _OUTBOX,
                ("stream_seq", "published_at"),
                [(head + offset, now, row.id) for offset, row in enumerate(rows, start=1)],
            )
        log.info(
            "events_published",
            count=len(rows),
            first_seq=head + 1,
            last_seq=head + len(rows),
        )
        return len(rows)

    def _publish(self, loop: asyncio.AbstractEventLoop, events: list[Delivered]) -> None:
        """Run the bus's publish on the event loop and wait for it from this thread."""
        future = asyncio.run_coroutine_threadsafe(self.bus.publish(events), loop)
        try:
            future.result(timeout=self.publish_timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(
                f"the bus did not confirm {len(events)} events in {self.publish_timeout} s"
            ) from None

    def _unpublished(self) -> Select[Any]:
        """The oldest committed rows not yet published (served by a partial index)."""
        return (
            select(OutboxEvent)
            .where(OutboxEvent.published_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(self.batch_size)
        )


#: What the relay reads of an event it sends on (:attr:`Bus.carries_events`).
_CARRIED = (
    OutboxEvent.id,
    OutboxEvent.event_id,
    OutboxEvent.name,
    OutboxEvent.payload,
    OutboxEvent.occurred_at,
)
_OUTBOX = cast(Table, OutboxEvent.__table__)


def _take_relay_lock(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: this transaction already holds the only writer lock
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(RELAY_LOCK_KEY))))
