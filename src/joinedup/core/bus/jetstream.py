"""The production bus: NATS JetStream.

- One stream (``JOINEDUP_NATS_STREAM``) holds every event under ``<stream>.events.<name>``
  (``joinedup.events.population.birth_registered.v1`` for the default stream ``JOINEDUP``);
  it is created, or brought to this configuration, on connect.
- The relay publishes with ``Nats-Msg-Id`` = event id and waits for every PubAck: within
  the stream's duplicate window a republished event is stored once.
- Each consumer is one durable pull consumer with explicit acknowledgement. Any number of
  worker processes bind to it and compete for its messages. A message is acknowledged after
  the handler's transaction committed, negatively acknowledged with a delay when it failed
  (redelivered then), terminated once parked as a dead letter; one whose worker died is
  redelivered after ``ack_wait``. Long handlers keep their message with ``in_progress``.
- A batch consumer fetches up to its batch size per pull request and hands the events it got
  to its handler together; each message is then settled by its own outcome. Redelivered
  messages (a failed attempt before) are handed over one at a time.
- The attempt limit is enforced here, not by the server (``max_deliver`` = -1): only the
  application can park an exhausted event in the dead-letter table, and a server-side limit
  would silently drop it when the database is what keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Callable, Collection, Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
import structlog
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from joinedup.core.bus import (
    BatchDeliveryHandler,
    DeliveryHandler,
    Outcome,
    Verdict,
    not_watching,
)
from joinedup.core.events import Delivered

log = structlog.get_logger(__name__)

#: Messages taken per pull request; few, so a dead worker holds few for ``ack_wait``.
FETCH_BATCH = 20
#: How long one pull request waits for messages (also how fast ``stop`` is noticed).
FETCH_TIMEOUT = 1.0
#: How long the first connection may take.
CONNECT_DEADLINE = 10.0
#: How long JetStream drops a republished event id.
DUPLICATE_WINDOW = 120.0


def durable_name(consumer: str) -> str:
    """A JetStream durable name for ``consumer`` (no dots allowed there; stays unique)."""
    readable = re.sub(r"[^A-Za-z0-9_-]", "_", consumer)
    return f"{readable}-{hashlib.sha256(consumer.encode()).hexdigest()[:8]}"


class JetStreamBus:
    """The :class:`~joinedup.core.bus.Bus` on NATS JetStream."""

    carries_events = True  # the events are sent to the JetStream stream

    def __init__(
        self,
        url: str,
        *,
        stream: str,
        ack_wait: float = 30.0,
        publish_timeout: float = 10.0,
        connect_deadline: float = CONNECT_DEADLINE,
    ) -> None:
        self.servers = [server.strip() for server in url.split(",") if server.strip()]
        self.stream = stream
        self.prefix = f"{stream.lower()}.events"
        self.ack_wait = ack_wait
        self.publish_timeout = publish_timeout
        self.connect_deadline = connect_deadline
        self._nc: Any = None
        self._js: Any = None
        self._closing = False

    def subject(self, event_name: str) -> str:
        return f"{self.prefix}.{event_name}"

    # -- connection ------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._nc is not None and not self._nc.is_closed:
            return
        self._closing = False
        # Once connected, reconnect for ever; the first connection gets a deadline, so a
        # worker or web process with NATS down fails at start-up instead of hanging.
        try:
            self._nc = await asyncio.wait_for(
                nats.connect(
                    servers=self.servers,
                    name="joinedup",
                    connect_timeout=5,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                ),
                self.connect_deadline,
            )
        except TimeoutError:
            raise ConnectionError(
                f"NATS is not reachable at JOINEDUP_BUS_URL within {self.connect_deadline:g} s"
            ) from None
        self._js = self._nc.jetstream(timeout=self.publish_timeout)
        try:
            await self._ensure_stream()
        except BaseException:
            await self.close()
            raise
        log.info("bus_connected", bus="nats", stream=self.stream)

    async def close(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is None or nc.is_closed:
            return
        self._closing = True
        try:
            await nc.drain()  # lets the last acknowledgements out
        except (nats.errors.Error, TimeoutError):
            await nc.close()

    async def healthy(self) -> bool:
        if self._nc is None or not self._nc.is_connected:
            return False
        try:
            await self._js.stream_info(self.stream)
        except (nats.errors.Error, TimeoutError):
            log.warning("bus_unhealthy", bus="nats", stream=self.stream, exc_info=True)
            return False
        return True

    async def _on_error(self, error: Exception) -> None:
        log.warning("nats_error", error=type(error).__name__, detail=str(error))

    async def _on_disconnected(self) -> None:
        if not self._closing:
            log.warning("nats_disconnected")

    async def _on_reconnected(self) -> None:
        log.info("nats_reconnected")

    async def _ensure_stream(self) -> None:
        subjects = [f"{self.prefix}.>"]
        try:
            info = await self._js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await self._js.add_stream(
                StreamConfig(
                    name=self.stream,
                    description="joinedup domain events",
                    subjects=subjects,
                    retention=RetentionPolicy.LIMITS,
                    storage=StorageType.FILE,
                    duplicate_window=DUPLICATE_WINDOW,
                )
            )
            log.info("nats_stream_created", stream=self.stream)
            return
        config = info.config
        if config.subjects != subjects or config.duplicate_window != DUPLICATE_WINDOW:
            # Keep what an operator tuned (limits, replicas); change only what we rely on.
            config.subjects, config.duplicate_window = subjects, DUPLICATE_WINDOW
            await self._js.update_stream(config)
            log.info("nats_stream_updated", stream=self.stream)

    # -- the relay's side --------------------------------------------------------------------

    async def publish(self, events: Sequence[Delivered]) -> None:
        if self._js is None:
            raise RuntimeError("the NATS bus is not connected")
        acks: list[asyncio.Future[Any]] = []
        try:
            for event in events:  # sent in order on one connection, so stored in order
                acks.append(
                    await self._js.publish_async(
                        self.subject(event.name),
                        event.to_json(),
                        headers={"Nats-Msg-Id": str(event.event_id)},
                        stream=self.stream,
                    )
                )
            confirmed = await asyncio.wait_for(asyncio.gather(*acks), self.publish_timeout)
        except BaseException:
            for ack in acks:
                ack.cancel()
            raise
        duplicates = sum(1 for ack in confirmed if ack.duplicate)
        if duplicates:
            log.info("nats_duplicates_dropped", count=duplicates)

    def published(self) -> None:
        """Nothing to do: JetStream pushes to waiting pull requests itself."""

    def watch_commits(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Nothing tells of other processes' commits here: their relays find them by polling
        (each process relays what it commits itself, woken by its own commits)."""
        return not_watching

    # -- the consumers' side -----------------------------------------------------------------

    async def consume(
        self,
        consumer: str,
        event_names: Collection[str],
        handler: DeliveryHandler,
        stop: asyncio.Event,
    ) -> None:
        if self._js is None:
            raise RuntimeError("the NATS bus is not connected")
        names = frozenset(event_names)
        durable = await self._ensure_consumer(consumer, names)
        subscription = await self._js.pull_subscribe_bind(durable, stream=self.stream)
        log.info("consumer_bound", consumer=consumer, durable=durable)
        try:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                for index, message in enumerate(messages):
                    if stop.is_set():  # hand the rest back at once rather than after ack_wait
                        for rest in messages[index:]:
                            await rest.nak()
                        break
                    await self._deliver(consumer, names, message, handler)
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    async def consume_batches(
        self,
        consumer: str,
        event_names: Collection[str],
        handler: BatchDeliveryHandler,
        stop: asyncio.Event,
        *,
        batch_size: int,
    ) -> None:
        if self._js is None:
            raise RuntimeError("the NATS bus is not connected")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        names = frozenset(event_names)
        durable = await self._ensure_consumer(consumer, names)
        subscription = await self._js.pull_subscribe_bind(durable, stream=self.stream)
        log.info("consumer_bound", consumer=consumer, durable=durable, batch=batch_size)
        try:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(batch_size, timeout=FETCH_TIMEOUT)
                except (nats.errors.TimeoutError, TimeoutError):
                    continue
                await self._deliver_batch(consumer, names, messages, handler, stop)
        finally:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()

    async def _deliver_batch(
        self,
        consumer: str,
        names: frozenset[str],
        messages: list[Any],
        handler: BatchDeliveryHandler,
        stop: asyncio.Event,
    ) -> None:
        fresh: list[tuple[Any, Delivered]] = []
        again: list[tuple[Any, Delivered]] = []
        for message in messages:
            try:
                event = Delivered.from_json(message.data)
            except ValueError:
                log.error("bus_message_malformed", consumer=consumer, subject=message.subject)
                await message.term()
                continue
            if event.name not in names:
                await message.ack()
                continue
            attempt = int(message.metadata.num_delivered)
            (fresh if attempt == 1 else again).append((message, event))
        groups = [fresh] if fresh else []
        groups += [[redelivered] for redelivered in again]
        for index, group in enumerate(groups):
            if stop.is_set():  # hand the rest back at once rather than after ack_wait
                for rest in groups[index:]:
                    for message, _ in rest:
                        await message.nak()
                return
            keep_alive = [asyncio.create_task(self._keep_alive(m)) for m, _ in group]
            try:
                outcomes = await handler(
                    [(event, int(m.metadata.num_delivered)) for m, event in group]
                )
            finally:
                for task in keep_alive:
                    task.cancel()
            for (message, _), outcome in zip(group, outcomes, strict=True):
                await self._settle(message, outcome)

    async def _settle(self, message: Any, outcome: Outcome) -> None:
        if outcome.verdict is Verdict.RETRY:
            await message.nak(delay=outcome.retry_after)
        elif outcome.verdict is Verdict.DEAD_LETTERED:
            await message.term()
        else:
            await message.ack()

    async def _deliver(
        self, consumer: str, names: frozenset[str], message: Any, handler: DeliveryHandler
    ) -> None:
        try:
            event = Delivered.from_json(message.data)
        except ValueError:
            log.error("bus_message_malformed", consumer=consumer, subject=message.subject)
            await message.term()
            return
        if event.name not in names:  # only when the server cannot filter on several subjects
            await message.ack()
            return
        keep_alive = asyncio.create_task(self._keep_alive(message))
        try:
            outcome = await handler(event, int(message.metadata.num_delivered))
        finally:
            keep_alive.cancel()
        await self._settle(message, outcome)

    async def _keep_alive(self, message: Any) -> None:
        """Tell JetStream a long handler is still working, so it does not redeliver."""
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            with contextlib.suppress(nats.errors.Error):
                await message.in_progress()

    def _filter(self, names: frozenset[str]) -> dict[str, Any]:
        subjects = sorted(self.subject(name) for name in names)
        if len(subjects) == 1:
            return {"filter_subject": subjects[0], "filter_subjects": None}
        version = self._nc.connected_server_version
        if (version.major, version.minor) >= (2, 10):
            return {"filter_subject": None, "filter_subjects": subjects}
        # Older servers filter on one subject only: take every event, ack the others unread.
        return {"filter_subject": f"{self.prefix}.>", "filter_subjects": None}

    async def _ensure_consumer(self, consumer: str, names: frozenset[str]) -> str:
        durable = durable_name(consumer)
        wanted = self._filter(names)
        config = ConsumerConfig(
            durable_name=durable,
            description=f"joinedup consumer {consumer}",
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_deliver=-1,
            deliver_policy=DeliverPolicy.ALL,
            max_ack_pending=1000,
            **wanted,
        )
        try:
            info = await self._js.consumer_info(self.stream, durable)
        except nats.js.errors.NotFoundError:
            await self._js.add_consumer(self.stream, config)
            log.info("nats_consumer_created", consumer=consumer, durable=durable)
            return durable
        current = info.config
        if (current.filter_subject or None, current.filter_subjects or None) != (
            wanted["filter_subject"],
            wanted["filter_subjects"],
        ):
            # Servers do not reliably change a durable's filter in place: recreate it from
            # its acknowledged position (anything redelivered is a no-op through the inbox).
            start = int(info.ack_floor.stream_seq) + 1
            await self._js.delete_consumer(self.stream, durable)
            config.deliver_policy, config.opt_start_seq = DeliverPolicy.BY_START_SEQUENCE, start
            await self._js.add_consumer(self.stream, config)
            log.info("nats_consumer_recreated", consumer=consumer, durable=durable, start=start)
        elif current.ack_wait != self.ack_wait or current.max_deliver != -1:
            await self._js.add_consumer(self.stream, config)
            log.info("nats_consumer_updated", consumer=consumer, durable=durable)
        return durable
