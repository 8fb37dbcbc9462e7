"""The dispatcher: a worker loop that tells the agencies, through the exchange.

It claims the due notifications (:func:`~joinedup.tellusonce.service.claim`:
a lease and a counted attempt, committed), sends each one to its agency's service as a
mediated call from the Central Digital Office's ``tell-us-once`` subsystem
(:func:`joinedup.exchange.send_unrecorded`: signed, logged, a data-usage record naming the
deceased, ``X-Road-Id`` = the notification's message id), and records the answer in a
transaction of its own, with the exchange's records of the message (the answers come in
together are recorded in one transaction, their messages' records in one transparency-log
batch):

- 2xx with a valid acknowledgement (``outcome``, ``summary``…) → acknowledged;
- the exchange refuses (no access right) or the agency refuses the message (4xx other than
  408, 409, 425, 429) → dead-lettered at once: sending it again cannot help until someone
  fixes something, then replays it;
- no answer, 5xx, 408/409/425/429 or an answer that is not an acknowledgement → retried after
  a doubling delay, dead-lettered after ``JOINEDUP_TELL_US_ONCE_MAX_ATTEMPTS``.

A worker killed mid-round leaves leased notifications; once the lease has expired another
worker (or the restarted one) sends them again with the same message id, and the agency,
idempotent on it, answers what it did the first time.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError
from sqlalchemy.orm import Session

from joinedup import exchange
from joinedup.core.bus import setter_from_any_thread, wait_any
from joinedup.core.db import Database
from joinedup.core.events import on_commit_of
from joinedup.core.logging import get_logger
from joinedup.core.settings import Settings
from joinedup.tellusonce.schemas import AgencyAnswer
from joinedup.tellusonce.service import (
    NOTIFICATIONS_DUE,
    PURPOSE,
    Claim,
    Delivery,
    claim,
    complete_settled,
    lock_for_settling,
    record_answer,
    record_failure,
)

log = get_logger(__name__)


async def _first_of(
    tasks: set[asyncio.Task[str | None]],
    stop: asyncio.Event,
    timeout: float | None,
    due: asyncio.Event | None = None,
) -> None:
    """Wait until one of ``tasks`` is done, ``stop`` is set, ``timeout`` seconds pass or
    (with slots free: a timeout) ``due`` is set."""
    events = [stop] if due is None or timeout is None else [stop, due]
    waiting = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait({*tasks, *waiting}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in waiting:
            future.cancel()


#: Answers that mean "not now" rather than "never": retried.
TRANSIENT = frozenset({408, 409, 425, 429})
ACTOR = "tell-us-once"


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


T = TypeVar("T")


class _Answers:
    """The agencies' answers, recorded together: an answer waits for the transaction that
    records every answer come in meanwhile (one writer's turn for a death's whole fan-out
    rather than one per agency — on SQLite each turn waits behind whatever holds the write
    lock). The exchange's records of the messages the answers are to (:class:`~joinedup.
    exchange.Sent`) are made first, in a transaction that only reads (:func:`~joinedup.
    exchange.make_sent_records_ahead`: on SQLite the writing transaction is the one writer's
    turn), and written in the same transaction as the answers, last, as one transparency-log
    batch. Should that transaction fail, each answer is recorded again alone with its
    message's records, so that one bad answer fails only its own delivery (and if even that
    fails, the message's records are written on their own: every message sent is on record).
    Within a transaction the answers are recorded in the order of their ``order`` key, (life
    event, notification): each locks its life event, then its notification, so two workers'
    batches lock rows in the same order (PostgreSQL would otherwise find a deadlock between
    [X, Y] and [Y, X]); ``lock``, given, reads and locks the rows of all of them first, in
    that order (the life events, then the notifications), so that recording each costs no
    query. Once a transaction's answers are recorded, ``settle`` is called once with the
    life events they belong to (in the same order): whether each death's last agency
    answered is looked at once for the answers of all its agencies, not after each, and the
    letters of the deaths settled go out together (:func:`~joinedup.tellusonce.service.
    complete_settled`)."""

    def __init__(
        self,
        database: Database,
        settle: Callable[[Session, list[int]], Any],
        lock: Callable[[Session, list[int]], Any] | None = None,
    ) -> None:
        self.database = database
        self.settle = settle
        #: Called first in a transaction recording many answers, with their notifications
        #: (in order): reads and locks their rows together (:func:`lock_for_settling`)
        self.lock = lock
        self._waiting: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(
        self,
        write: Callable[[Session], T],
        *,
        order: tuple[int, int],
        sent: exchange.Sent | None = None,
    ) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(order, write, sent, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        while self._waiting:
            batch = sorted(self._waiting, key=lambda waiting: waiting.order)
            self._waiting = []
            # the messages' records made first, outside the writing transaction
            sent = [waiting.sent for waiting in batch if waiting.sent is not None]
            await asyncio.to_thread(exchange.make_sent_records_ahead, self.database, sent)
            try:
                results = await asyncio.to_thread(self._together, batch)
            except Exception:
                results = await asyncio.to_thread(self._alone, batch)
            for waiting, result in zip(batch, results, strict=True):
                if waiting.done.done():
                    continue
                if isinstance(result, _Failed):
                    waiting.done.set_exception(result.error)
                else:
                    waiting.done.set_result(result)

    def _together(self, batch: list[_Waiting]) -> list[Any]:
        with self.database.unit_of_work() as session:
            if self.lock is not None:  # their rows, in the order each would lock them
                self.lock(session, [waiting.order[1] for waiting in batch])
            results = [waiting.write(session) for waiting in batch]
            self.settle(session, list(dict.fromkeys(waiting.order[0] for waiting in batch)))
            # last: on PostgreSQL appending to the transparency log takes a lock held until
            # the commit (appends are serialised), so it is taken as late as it can be
            exchange.write_sent_records(session, [w.sent for w in batch if w.sent is not None])
            return results

    def _alone(self, batch: list[_Waiting]) -> list[Any]:
        results: list[Any] = []
        for waiting in batch:
            try:
                with self.database.unit_of_work() as session:
                    result = waiting.write(session)
                    self.settle(session, [waiting.order[0]])
                    if waiting.sent is not None:
                        waiting.sent.write_records(session)
                    results.append(result)
            except Exception as error:
                results.append(_Failed(error))
                if waiting.sent is not None:
                    self._records_alone(waiting.sent)
        return results

    def _records_alone(self, sent: exchange.Sent) -> None:
        try:
            with self.database.unit_of_work() as session:
                sent.write_records(session)
        except Exception:
            log.exception("tell_us_once_message_not_recorded", message_id=sent.message_id)


@dataclass(frozen=True)
class _Waiting:
    """An answer waiting to be recorded: its order, what records it, the records of the
    message it answers, and who waits for it."""

    order: tuple[int, int]
    write: Callable[[Session], Any]
    sent: exchange.Sent | None
    done: asyncio.Future[Any]


@dataclass(frozen=True)
class _Failed:
    error: Exception


def _complete_settled(session: Session, life_event_ids: list[int]) -> None:
    complete_settled(session, life_event_ids=life_event_ids, actor=ACTOR)


def _order(delivery: Delivery) -> tuple[int, int]:
    return delivery.life_event_id, delivery.notification_id


class Dispatcher:
    """Delivers due notifications until stopped (see the module docstring), up to
    ``concurrency`` at a time. ``http`` is the client to the agencies' systems (default:
    :func:`joinedup.exchange.provider_transport`)."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        http: httpx.AsyncClient | None = None,
        concurrency: int | None = None,
        poll_interval: float = 0.5,
    ) -> None:
        self.settings = settings
        self.database = database
        self.http = http
        self.concurrency = settings.tell_us_once_concurrency if concurrency is None else concurrency
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.poll_interval = poll_interval
        self.owner = worker_name()
        self._answers = _Answers(database, _complete_settled, lock_for_settling)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop``: up to ``concurrency`` notifications in flight at once, a
        new one claimed as soon as one is settled (not round by round: a round waited for its
        slowest delivery, and a death's fan-out queued behind the rounds of every other),
        polling every ``poll_interval`` seconds when nothing is due, and woken sooner by a
        commit in this process that made notifications due (a death taken in: every worker
        process runs a dispatcher). On ``stop`` the
        deliveries in flight are finished (each bounded by the agency's timeout)."""
        own = self.http is None
        http = self.http or httpx.AsyncClient(
            transport=exchange.provider_transport(self.settings), follow_redirects=False
        )
        in_flight: set[asyncio.Task[str | None]] = set()
        # notifications committed in this process (a death taken in) wake it before its poll
        due = asyncio.Event()
        unwatch = on_commit_of(NOTIFICATIONS_DUE, setter_from_any_thread(due))
        try:
            # a claim is a write (a writer's turn on SQLite): made when a slot is free and
            # the last claim filled every free slot (more may be due), when notifications
            # were made due, else at the next poll
            more_due, filled, next_poll = True, True, 0.0
            while not stop.is_set():
                if due.is_set():
                    due.clear()
                    more_due = True
                free = self.concurrency - len(in_flight)
                if free > 0 and (more_due or time.monotonic() >= next_poll):
                    claimed = await asyncio.to_thread(self._claim, free)
                    # more may be due: every free slot was filled, or some waited for room
                    # at their agency (there is room again once one of its deliveries settles)
                    filled = len(claimed.deliveries) == free
                    more_due = filled or claimed.held_back
                    next_poll = time.monotonic() + self.poll_interval
                    for delivery in claimed.deliveries:
                        task = asyncio.create_task(self._settle(http, delivery))
                        in_flight.add(task)
                        task.add_done_callback(in_flight.discard)
                until_poll = max(0.0, next_poll - time.monotonic())
                if not in_flight:
                    await wait_any(stop, due, timeout=until_poll)
                    continue
                # slots left free: poll on time as well (new deaths, retries now due, for
                # agencies with room) — not only when a delivery settles, which a slow agency's
                # may take its whole timeout to do
                await _first_of(in_flight, stop, None if filled else until_poll, due)
        finally:
            unwatch()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            if own:
                await http.aclose()

    async def run_once(self, http: httpx.AsyncClient | None = None) -> int:
        """One round: claim what is due (up to ``concurrency``) and deliver it; returns how
        many were claimed."""
        client = http or self.http
        assert client is not None, "give the dispatcher an HTTP client"
        claimed = await asyncio.to_thread(self._claim, self.concurrency)
        await asyncio.gather(*(self._settle(client, d) for d in claimed.deliveries))
        return len(claimed.deliveries)

    async def _settle(self, http: httpx.AsyncClient, delivery: Delivery) -> str | None:
        """Deliver one claimed notification; an outcome that could not be recorded is
        logged (the lease runs out and the same message is sent again, which the agency
        recognises)."""
        try:
            return await self.deliver(http, delivery)
        except Exception as error:
            log.error(
                "tell_us_once_outcome_not_recorded",
                notification=delivery.notification_id,
                error=type(error).__name__,
            )
            return None

    def _claim(self, limit: int) -> Claim:
        with self.database.unit_of_work() as session:
            return claim(
                session,
                owner=self.owner,
                lease_seconds=self.settings.tell_us_once_lease_seconds,
                max_attempts=self.settings.tell_us_once_max_attempts,
                limit=limit,  # claimed means in flight: no lease runs out waiting
                per_agency=self.settings.tell_us_once_per_agency,
            )

    async def deliver(self, http: httpx.AsyncClient, delivery: Delivery) -> str:
        """Send one claimed notification and record the outcome; returns the new status."""
        try:
            sent = await exchange.send_unrecorded(
                self.database,
                http,
                client=self.settings.tell_us_once_subsystem,
                service=delivery.service,
                purpose=PURPOSE,
                body=delivery.body,
                message_id=delivery.message_id,
                data_subjects=delivery.data_subjects,
                sent_fields=delivery.sent_fields,
                issue=delivery.issue,
                timeout=self.settings.tell_us_once_timeout,
            )
        except Exception:
            # the database is away (the call may or may not have reached the agency): the
            # lease runs out and the same message is sent again, which the agency recognises
            log.exception("tell_us_once_delivery_failed", notification=delivery.notification_id)
            return "pending"
        # the message's records are written with what its answer means, in one transaction
        error = sent.error
        if isinstance(error, exchange.LocalCallRefused):
            return await self._failed(
                delivery, f"{error.error_type}: {error.detail}", True, sent=sent
            )
        if isinstance(error, exchange.ProviderUnreachable):
            return await self._failed(delivery, f"{error.error_type}: {error.detail}", sent=sent)
        reply = sent.result()
        if reply.ok:
            try:
                answer = AgencyAnswer.model_validate(reply.json())
            except (ValueError, ValidationError):
                return await self._failed(
                    delivery, f"HTTP {reply.status}: the answer is not an acknowledgement",
                    sent=sent,
                )  # fmt: skip
            return await self._acknowledged(delivery, answer, sent)
        permanent = 400 <= reply.status < 500 and reply.status not in TRANSIENT
        return await self._failed(
            delivery, f"HTTP {reply.status} from the agency", permanent, sent=sent
        )

    async def _acknowledged(
        self, delivery: Delivery, answer: AgencyAnswer, sent: exchange.Sent
    ) -> str:
        def write(session: Session) -> str:
            record_answer(
                session,
                notification_id=delivery.notification_id,
                answer=answer,
                actor=ACTOR,
                complete=False,  # (the batch's life events are completed after its answers)
            )
            return "acknowledged"

        status = await self._answers.record(write, order=_order(delivery), sent=sent)
        log.info(
            "tell_us_once_agency_informed",
            notification=delivery.notification_id,
            member=delivery.member_code,
            attempt=delivery.attempt,
            outcome=answer.outcome,
        )
        return status

    async def _failed(
        self,
        delivery: Delivery,
        error: str,
        permanent: bool = False,
        *,
        sent: exchange.Sent | None = None,
    ) -> str:
        def write(session: Session) -> str | None:
            return record_failure(
                session,
                notification_id=delivery.notification_id,
                error=error,
                permanent=permanent,
                retry_base=self.settings.tell_us_once_retry_delay,
                max_attempts=self.settings.tell_us_once_max_attempts,
                actor=ACTOR,
                complete=False,
            )

        status = await self._answers.record(write, order=_order(delivery), sent=sent)
        log.warning(
            "tell_us_once_attempt_failed",
            notification=delivery.notification_id,
            member=delivery.member_code,
            attempt=delivery.attempt,
            status=status,
            error=error[:200],
        )
        return status or "settled"
