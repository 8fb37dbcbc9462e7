"""The event bus: how published events reach consumers.

Two backends answer one :class:`Bus` protocol and pass one test suite (STYLE.md habit 6):

- ``inprocess://`` (:class:`~joinedup.core.bus.inprocess.InProcessBus`): the stream *is* the
  outbox table, read in ``stream_seq`` order; each consumer's durable position is a row of
  ``bus_consumer_cursor``, held by one process at a time through a lease.
- ``nats://…`` (:class:`~joinedup.core.bus.jetstream.JetStreamBus`): one JetStream stream,
  publishes deduplicated by event id, one durable pull consumer per consumer name, explicit
  acknowledgement and redelivery; several workers compete for a consumer's events.

Delivery is at least once. The relay (``joinedup.core.relay``) calls :meth:`Bus.publish`;
the workers (``joinedup.core.worker``) call :meth:`Bus.consume` with a handler that applies
the event in one transaction (``joinedup.core.handling``) and says what to do next: the bus
acknowledges only after that transaction committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from joinedup.core.events import Delivered

if TYPE_CHECKING:
    from joinedup.core.db import Database
    from joinedup.core.settings import Settings


class Verdict(enum.Enum):
    HANDLED = "handled"  # applied and committed: acknowledge
    DUPLICATE = "duplicate"  # already in the inbox: acknowledge without applying
    IGNORED = "ignored"  # not an event this consumer asked for: acknowledge
    DEAD_LETTERED = "dead_lettered"  # parked for an operator: stop delivering it
    RETRY = "retry"  # failed, rolled back: deliver again after ``retry_after`` seconds


@dataclass(frozen=True)
class Outcome:
    """What a consumer made of one delivery; the bus acts on it."""

    verdict: Verdict
    retry_after: float = 0.0

    @property
    def settled(self) -> bool:
        return self.verdict is not Verdict.RETRY


HANDLED = Outcome(Verdict.HANDLED)
DUPLICATE = Outcome(Verdict.DUPLICATE)
IGNORED = Outcome(Verdict.IGNORED)
DEAD_LETTERED = Outcome(Verdict.DEAD_LETTERED)

#: Handles one delivery. The ``int`` is the delivery attempt, counting from 1.
DeliveryHandler = Callable[[Delivered, int], Awaitable[Outcome]]
#: Handles several ``(event, attempt)`` deliveries; returns one outcome per delivery, in order.
BatchDeliveryHandler = Callable[[Sequence[tuple[Delivered, int]]], Awaitable[Sequence[Outcome]]]


def not_watching() -> None:
    """What removes a listener that was never added (a bus that cannot watch)."""


@runtime_checkable
class Bus(Protocol):
    """A durable, at-least-once event stream with named durable consumers."""

    #: Whether :meth:`publish` sends the events themselves (JetStream). False: the relay's
    #: commit of their ``stream_seq`` is what publishes them (the in-process bus, whose
    #: consumers read the outbox) — the relay then reads no payloads and calls no publish.
    carries_events: bool

    async def connect(self) -> None:
        """Connect and create what the bus needs (the JetStream stream); idempotent."""

    async def close(self) -> None:
        """Let in-flight acknowledgements out and disconnect."""

    async def healthy(self) -> bool:
        """Whether events can be published and consumed right now (for ``/readyz``)."""

    async def publish(self, events: Sequence[Delivered]) -> None:
        """Make ``events`` durable on the bus, in order, before returning.

        The relay calls this inside its transaction and marks the rows published only after
        it returns, so a crash in between publishes them again (consumers deduplicate).
        """

    def published(self) -> None:
        """The relay committed a batch: wake consumers waiting in this process (and, on the
        in-process bus, in the other processes sharing its SQLite file)."""

    def watch_commits(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` when another process commits events to the outbox, where the bus
        can tell (the in-process bus on a SQLite file); returns what removes it. The relay
        waits for it; where nothing tells, it finds their events by polling."""

    async def consume(
        self,
        consumer: str,
        event_names: Collection[str],
        handler: DeliveryHandler,
        stop: asyncio.Event,
    ) -> None:
        """Deliver the named events, in stream order, to ``handler`` until ``stop`` is set.

        Events with other names are acknowledged without calling ``handler``. A delivery is
        acknowledged when the handler's outcome is settled, delivered again after
        ``retry_after`` seconds when it is a retry.
        """

    async def consume_batches(
        self,
        consumer: str,
        event_names: Collection[str],
        handler: BatchDeliveryHandler,
        stop: asyncio.Event,
        *,
        batch_size: int,
    ) -> None:
        """Like :meth:`consume`, handing ``handler`` up to ``batch_size`` deliveries at once.

        A batch is what is available now (no waiting to fill it). Each delivery is settled by
        its own outcome; an event being retried is delivered alone.
        """


def create_bus(settings: Settings, database: Database) -> Bus:
    """The bus ``settings.bus_url`` names: ``inprocess://`` or ``nats://host:port[,…]``."""
    url = settings.bus_url
    if url.startswith("inprocess:"):
        from joinedup.core.bus.inprocess import InProcessBus

        return InProcessBus(database, lease_seconds=settings.bus_ack_wait)
    if url.startswith(("nats:", "tls:")):
        from joinedup.core.bus.jetstream import JetStreamBus

        return JetStreamBus(url, stream=settings.nats_stream, ack_wait=settings.bus_ack_wait)
    raise ValueError(f"JOINEDUP_BUS_URL must start with inprocess:// or nats://, not {url!r}")


def setter_from_any_thread(event: asyncio.Event) -> Callable[[], None]:
    """A function that sets ``event`` (of the running loop) from any thread — a committing
    one, say — and does nothing once that loop is closed. Call it in the loop."""
    loop = asyncio.get_running_loop()

    def set_it() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(event.set)

    return set_it


async def wait_any(*events: asyncio.Event, timeout: float) -> bool:
    """Wait until one of ``events`` is set or ``timeout`` seconds pass; returns whether one is."""
    if any(event.is_set() for event in events):
        return True
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    return bool(done)


__all__ = [
    "DEAD_LETTERED",
    "DUPLICATE",
    "HANDLED",
    "IGNORED",
    "BatchDeliveryHandler",
    "Bus",
    "Delivered",
    "DeliveryHandler",
    "Outcome",
    "Verdict",
    "create_bus",
    "not_watching",
    "setter_from_any_thread",
    "wait_any",
]
