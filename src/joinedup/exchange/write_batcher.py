"""Group commit at the civil-registration entry point: many write calls, one transaction.

A civil-registration system (OpenCRVS, any registrar's system) records births, deaths,
marriages and moves by calling the population register's write services over ``/r1``, one
request per registration. Alone, each call pays a transaction, SQLite's write lock and a
signed tree head; under load they queue on the lock. Each web process therefore runs one
:class:`WriteBatcher`, shaped like the exchange's :class:`~joinedup.exchange.recorder.Recorder`:
a writer thread that takes the write calls queued within a few milliseconds (up to
``max_batch``) and writes them in **one** unit of work:

1. the registrations (:func:`~joinedup.exchange.write_services.run_writes`: births together
   through :func:`joinedup.registries.register_births`, others one by one in SAVEPOINTs),
   each with its own ``exchange_write_request`` row (idempotency on the caller's reference)
   and its own ``population.*`` event in the outbox;
2. every call's signed message-log record, data-usage records and monitoring row, appended
   to the transparency log as one batch (one signed tree head).

Only after that commit does any of the calls get its answer, so a registration and its
records commit together or not at all. What can be refused without the database (the body,
the method, the path) is refused before the group, on the mediation thread; a refusal by the
register (a parent not alive, a death before a birth) is that call's answer and changes
nothing else. If the group's transaction fails (on PostgreSQL, another process stored the
same reference meanwhile), its calls are written again one at a time, so one call cannot fail
its neighbours; a call that still fails is answered ``Server.ServerProxy.ServiceFailed`` and
recorded like any failure.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from joinedup.core.db import Database
from joinedup.core.errors import DomainError
from joinedup.core.keys import SigningKey
from joinedup.core.logging import get_logger
from joinedup.exchange.calls import Call, fail, provider_refused, recording
from joinedup.exchange.protocol import MediationError
from joinedup.exchange.recorder import (
    LINGER_SECONDS,
    Recorder,
    Waiter,
    deliver,
    gather_batch,
    write_recordings,
)
from joinedup.exchange.write_services import (
    ATTEMPTS,
    REPLAY_HEADER,
    PendingWrite,
    WriteAnswer,
    run_writes,
    writers_lock,
)

log = get_logger(__name__)

_STOP = object()


@dataclass
class WriteJob:
    """One write call waiting for its group: the call, its checked body, and who waits."""

    call: Call
    write: PendingWrite
    started_ns: int  # when the mediator received it (the record's total time)
    logged_at: datetime
    waiter: asyncio.Future[Any]  # of the event loop the call's request waits on


def settle_call(call: Call, result: WriteAnswer | DomainError, provider_us: int) -> None:
    """Set the answer of a write ``call`` as the mediator's registry calls do."""
    call.provider_us = provider_us
    if isinstance(result, DomainError):  # the register refused the input: passed through
        provider_refused(call, result)
        return
    call.status = result.status
    call.response_body = result.body
    call.subjects = result.data_subjects
    call.returned_fields = result.fields
    if result.replayed:
        call.extra_headers[REPLAY_HEADER] = "true"


def _reset(call: Call) -> None:
    """Forget an answer whose transaction rolled back."""
    call.status, call.response_body, call.media_type = 500, b"", "application/json"
    call.error_type, call.subjects, call.returned_fields = None, (), ()
    call.extra_headers.pop(REPLAY_HEADER, None)


def _since(started_ns: int) -> int:
    return (time.perf_counter_ns() - started_ns) // 1000


class WriteBatcher:
    """One writer thread per process that commits queued write calls in groups."""

    def __init__(
        self,
        database: Database,
        *,
        signer: SigningKey,
        recorder: Recorder,
        max_batch: int = 256,
        linger: float = LINGER_SECONDS,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if linger < 0:
            raise ValueError("linger must not be negative")
        self.database = database
        self.signer = signer
        #: Records the calls whose write failed for good (in a transaction of their own).
        self.recorder = recorder
        self.max_batch = max_batch
        self.linger = linger
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        #: Set by :meth:`_write` when it drains the stop marker: kept even if the write then
        #: fails, so the writer thread still stops (and :meth:`stop` returns).
        self._stop_taken = False
        self.batches = 0
        self.calls = 0

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=self._run, name="exchange-write-batcher", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Write everything queued, then stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(_STOP)
        thread.join()

    def enqueue(self, job: WriteJob) -> None:
        """Queue ``job`` from any thread; its waiter gets ``None`` once the call's
        registration and records are committed (or the error that kept its record from being
        written). Not running: written in the calling thread."""
        with self._lock:
            if self._thread is not None:
                self._queue.put(job)
                return
        self._write([job])

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = gather_batch(
                self._queue, _STOP, linger=self.linger, max_batch=self.max_batch
            )
            if batch:
                try:
                    self._write(batch, drain=not stopping)
                except Exception as exc:  # a bug: keep the thread, answer the calls
                    log.exception("write batcher failed")
                    deliver([(job.waiter, exc) for job in batch])
            stopping = stopping or self._stop_taken
        self._stop_taken = False

    def _write(self, batch: list[WriteJob], *, drain: bool = False) -> None:
        """Write ``batch`` (and, with ``drain``, what queued while waiting for the writers'
        lock: the jobs are appended to ``batch``, a stop marker sets ``_stop_taken``) and
        settle its waiters."""
        outcomes: list[tuple[Waiter, BaseException | None]] = []
        failed: list[WriteJob] = []
        with writers_lock(self.database):
            while drain and len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._stop_taken = True
                    break
                batch.append(item)
            error = self._write_group(batch)
            if error is None:
                outcomes.extend((job.waiter, None) for job in batch)
            elif len(batch) == 1 and not isinstance(error, IntegrityError):
                failed.append(batch[0])
            else:
                if len(batch) > 1:
                    log.warning(
                        "registration group failed; writing its calls one by one",
                        size=len(batch),
                        error=type(error).__name__,
                    )
                for job in batch:
                    if self._write_alone(job):
                        outcomes.append((job.waiter, None))
                    else:
                        failed.append(job)
        deliver(outcomes)
        for job in failed:  # answered as a failure of the service, recorded like any call
            fail(
                job.call,
                MediationError(
                    "Server.ServerProxy.ServiceFailed", "the registry service failed to answer"
                ),
            )
            job.call.provider_us = _since(job.started_ns)
            self.recorder.enqueue(
                recording(job.call, logged_at=job.logged_at, total_us=_since(job.started_ns)),
                job.waiter,
            )

    def _write_alone(self, job: WriteJob) -> bool:
        """One call in transactions of its own; a lost race (``IntegrityError``: two births
        taking one personal code, one reference sent twice at once on PostgreSQL) is tried
        again, and then replays or registers."""
        for _ in range(ATTEMPTS):
            error = self._write_group([job])
            if error is None:
                return True
            if not isinstance(error, IntegrityError):
                break
        log.error("a registration could not be written", error=type(error).__name__)
        return False

    def _write_group(self, batch: list[WriteJob]) -> BaseException | None:
        """One transaction: the registrations, then every call's records. The error (nothing
        written, the calls' answers forgotten) if it failed."""
        started = time.perf_counter_ns()
        try:
            with self.database.unit_of_work() as session:
                results = run_writes(session, [job.write for job in batch])
                provider_us = _since(started)
                for job, result in zip(batch, results, strict=True):
                    settle_call(job.call, result, provider_us)
                write_recordings(
                    session,
                    [
                        recording(
                            job.call, logged_at=job.logged_at, total_us=_since(job.started_ns)
                        )
                        for job in batch
                    ],
                    signer=self.signer,
                )
        except Exception as exc:
            for job in batch:
                _reset(job.call)
            if not isinstance(exc, IntegrityError):
                log.warning("registration transaction failed", size=len(batch), exc_info=True)
            return exc
        self.batches += 1
        self.calls += len(batch)
        return None


__all__ = ["WriteBatcher", "WriteJob", "settle_call"]
