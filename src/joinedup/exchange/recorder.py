"""Group commit of the exchange's records: many requests, one transaction, one tree head.

Every mediated call leaves a message-log record, one data-usage record per data subject and
a monitoring record, and the two kinds of record are appended to the transparency log. Writing
them one request at a time would make every call pay a transaction, the log's append lock and
a tree-head signature. Instead each web process runs one :class:`Recorder`: a writer thread
with a queue. A request hands over its :class:`Recording` and **waits until the transaction
holding it has committed** before it answers (no answer without its record: the issue says
every read *leaves* a data-usage record, so asynchronous writes would be a broken promise).

The writer takes everything queued, up to ``max_batch`` recordings, and writes it in one
unit of work: one ``append_batch`` (one signed tree head), then the rows with their log
indices, as bulk inserts. Batches form by themselves: while one commits, the next requests
queue, so an idle process commits each request at once and a busy one amortises a commit over
dozens. When a batch fails, its recordings are retried one by one, so one bad record cannot
fail its neighbours; a recording that still fails fails its request (500, nothing returned).

Several processes each run their own recorder: appends are serialised by the database
(SQLite's write lock, PostgreSQL's advisory lock in ``append_batch``). ``stop()`` writes what
is queued before it returns; a recording submitted after ``stop()`` is written in the
submitting thread.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.core.logging import get_logger
from joinedup.core.translog import AppendResult, append_batch
from joinedup.exchange.canonical import MESSAGE_KIND, USAGE_KIND
from joinedup.exchange.records import CallRecord, DataUsageRecord, MessageLogRecord

log = get_logger(__name__)

_STOP = object()
_MESSAGES = insert(cast(Table, MessageLogRecord.__table__))
_USAGES = insert(cast(Table, DataUsageRecord.__table__))
_CALLS = insert(cast(Table, CallRecord.__table__))


@dataclass
class Recording:
    """What one call leaves behind. Rows are column → value, without ``log_index``;
    ``message_leaf`` and ``usage_leaves`` are their transparency-log leaf inputs."""

    message: dict[str, Any] | None = None
    message_leaf: bytes = b""
    usages: list[dict[str, Any]] = field(default_factory=list)
    usage_leaves: list[bytes] = field(default_factory=list)
    call: dict[str, Any] | None = None


def write_recordings(
    session: Session, recordings: Sequence[Recording], *, signer: SigningKey
) -> AppendResult | None:
    """Append the recordings' log entries as one batch and insert their rows.

    Changes: ``tlog_entry``, ``tlog_node``, one ``tlog_tree_head``, ``exchange_message``,
    ``exchange_data_usage``, ``exchange_call``; sets ``log_index`` on the given row dicts.
    Emits no event. Returns the append (``None`` when nothing needed the log).
    """
    kinds: list[str] = []
    leaves: list[bytes] = []
    targets: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    usages: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for recording in recordings:
        if recording.message is not None:
            kinds.append(MESSAGE_KIND)
            leaves.append(recording.message_leaf)
            targets.append(recording.message)
            messages.append(recording.message)
        for usage, leaf in zip(recording.usages, recording.usage_leaves, strict=True):
            kinds.append(USAGE_KIND)
            leaves.append(leaf)
            targets.append(usage)
            usages.append(usage)
        if recording.call is not None:
            calls.append(recording.call)
    result = None
    if leaves:
        result = append_batch(session, kinds=kinds, leaf_inputs=leaves, signer=signer)
        for row, index in zip(targets, result.indices, strict=True):
            row["log_index"] = index
    # Core executemany (the ORM's bulk-insert layer cost more than the statements): the
    # columns' types still bind the values (UUIDs, UTC datetimes, dates).
    connection = session.connection()
    if messages:
        connection.execute(_MESSAGES, messages)
    if usages:
        connection.execute(_USAGES, usages)
    if calls:
        connection.execute(_CALLS, calls)
    return result


class Recorder:
    """One writer thread per process that commits queued recordings in groups."""

    def __init__(self, database: Database, *, signer: SigningKey, max_batch: int = 256) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.database = database
        self.signer = signer
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.recordings = 0

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="exchange-recorder", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Write everything queued, then stop the writer thread."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(_STOP)
        thread.join()

    def submit(self, recording: Recording) -> Future[None]:
        """Queue ``recording``; the future completes when its transaction has committed."""
        future: Future[None] = Future()
        with self._lock:
            if self._thread is not None:
                self._queue.put((recording, future))
                return future
        self._write([(recording, future)])  # not running: write it here and now
        return future

    async def record(self, recording: Recording) -> None:
        """Submit and wait (without blocking the event loop) until it is committed."""
        await asyncio.wrap_future(self.submit(recording))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            batch: list[tuple[Recording, Future[None]]] = []
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)
                if len(batch) >= self.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)

    def _write(self, batch: list[tuple[Recording, Future[None]]]) -> None:
        try:
            with self.database.unit_of_work() as session:
                write_recordings(session, [recording for recording, _ in batch], signer=self.signer)
        except Exception as exc:
            if len(batch) > 1:
                log.warning("exchange records batch failed; retrying one by one", size=len(batch))
                for one in batch:
                    self._write([one])
                return
            log.exception("an exchange record could not be written")
            _settle(batch[0][1], exc)
            return
        self.batches += 1
        self.recordings += len(batch)
        for _, future in batch:
            _settle(future, None)


def _settle(future: Future[None], error: BaseException | None) -> None:
    if future.done():  # the waiting request was cancelled (its client went away)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
