"""Group commit of the exchange's records: many requests, one transaction, one tree head.

Every mediated call leaves a message-log record, one data-usage record per data subject and
a monitoring record, and the two kinds of record are appended to the transparency log. Writing
them one request at a time would make every call pay a transaction, the log's append lock and
a tree-head signature. Instead each web process runs one :class:`Recorder`: a writer thread
with a queue. A request hands over its :class:`Recording` and **waits until the transaction
holding it has committed** before it answers (no answer without its record: the issue says
every read *leaves* a data-usage record, so asynchronous writes would be a broken promise).

The writer takes everything queued (waiting up to ``linger`` seconds after the first one for
more to arrive), up to ``max_batch`` recordings, and writes it in one
unit of work: one ``append_batch`` (one signed tree head), then the rows with their log
indices, as bulk inserts. Batches form by themselves: while one commits, the next requests
queue, so an idle process commits each request at once and a busy one amortises a commit over
dozens. When a batch fails, its recordings are retried one by one, so one bad record cannot
fail its neighbours; a recording that still fails fails its request (500, nothing returned).
When a recording retried alone fails for want of the database (unreachable, locked past the
busy timeout, gone: :data:`UNAVAILABLE`), the rest of its batch fails with it untried: each
would wait as long to fail alike, and ``stop()`` would wait for all of them. Failed recordings
are logged (counts and error names), counted (``failed``) and their requests answered.

Several processes each run their own recorder: appends are serialised by the database
(SQLite's write lock, PostgreSQL's advisory lock in ``append_batch``). ``stop()`` writes what
is queued before it returns; a recording submitted after ``stop()`` is written in the
submitting thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import operator
import queue
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from joinedup.core.bulk_writes import insert_rows, insert_rows_sharing
from joinedup.core.db import Database
from joinedup.core.ids import uuid_of_int
from joinedup.core.keys import SigningKey
from joinedup.core.logging import get_logger
from joinedup.core.translog import AppendResult, append_batch
from joinedup.exchange.canonical import MESSAGE_KIND, USAGE_KIND
from joinedup.exchange.messagelog import UnsignedMessage, sign_batch
from joinedup.exchange.records import CallRecord, DataUsageRecord, MessageLogRecord

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

log = get_logger(__name__)

_STOP = object()
#: How long the writer waits after the first queued recording for more to join its batch. Each
#: transaction costs a write lock, a tree-head signature and a commit however few records it
#: holds; under load a couple of milliseconds turn batches of three into batches of dozens.
LINGER_SECONDS = 0.002
_MESSAGES = cast(Table, MessageLogRecord.__table__)
_USAGES = cast(Table, DataUsageRecord.__table__)
_CALLS = cast(Table, CallRecord.__table__)
#: Errors of the database rather than of a record (connection, lock, pool timeout).
UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)
#: Bound parameters per statement: below SQLite's limit (32,766 since 3.32; 999 before).


@dataclass
class Recording:
    """What one call leaves behind. Rows are column → value, without ``log_index``; the
    message-log record is signed with the batch it is written in (``message``);
    ``usage_leaves`` are the data-usage records' transparency-log leaf inputs."""

    message: UnsignedMessage | None = None
    usages: list[dict[str, Any]] = field(default_factory=list)
    usage_leaves: list[bytes] = field(default_factory=list)
    call: dict[str, Any] | None = None

    #: A bulk read's data-usage rows in short, as a recording sent between processes
    #: arrives (:meth:`__reduce__`): what every row shares, then per row its record id, salt
    #: and subject. Written as ``usages`` would be, with no row dict made.
    shared_usages: tuple[dict[str, Any], list[tuple[uuid.UUID, bytes, str]]] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (a re-evaluation's read-ahead sends a bulk read's records between
        processes) with the data-usage rows in short when they share all but their own
        values: tens of thousands of row dicts (each with a UUID, whose unpickling runs
        ``UUID.__setstate__``) would be rebuilt in the receiving process, holding its
        interpreter lock while the run writes."""
        short: tuple[dict[str, Any], list[tuple[int, bytes, str]]] | None
        if self.shared_usages is not None:
            common, own = self.shared_usages
            short = (common, [(record.int, salt, subject) for record, salt, subject in own])
        else:
            short = _in_short(self.usages)
        usages: list[dict[str, Any]] = [] if short is not None else self.usages
        state: tuple[Any, ...] = (self.message, usages, self.usage_leaves, self.call, short)
        return (_restored, state)


#: The values of a data-usage row of its own (the rest its call's records share).
_OWN = ("record_id", "salt", "subject_code")


def _in_short(
    rows: list[dict[str, Any]],
) -> tuple[dict[str, Any], list[tuple[int, bytes, str]]] | None:
    """What ``rows`` share and per row its own values (the record id as an integer); None
    when they are not one call's rows (other columns, other values, log indices already)."""
    if not rows or "log_index" in rows[0]:
        return None
    first = rows[0]
    shared = {key: value for key, value in first.items() if key not in _OWN}
    if len(shared) + len(_OWN) != len(first):
        return None
    keys = first.keys()
    own: list[tuple[int, bytes, str]] = []
    for row in rows:
        if row.keys() != keys:
            return None
        for key, value in shared.items():
            # the same object (one call's rows share them): an equal value of another type or
            # time zone would be written as the first row's, unlike its log leaf
            if row[key] is not value:
                return None
        record_id = row["record_id"]
        if type(record_id) is not uuid.UUID:
            return None
        own.append((record_id.int, row["salt"], row["subject_code"]))
    return shared, own


def _restored(
    message: UnsignedMessage | None,
    usages: list[dict[str, Any]],
    usage_leaves: list[bytes],
    call: dict[str, Any] | None,
    short: tuple[dict[str, Any], list[tuple[int, bytes, str]]] | None,
) -> Recording:
    recording = Recording(message, usages, usage_leaves, call)
    if short is not None:
        common, own = short
        recording.shared_usages = (
            common,
            [(uuid_of_int(record_id), salt, subject) for record_id, salt, subject in own],
        )
    return recording


def _same_columns(names: tuple[str, ...], columns: tuple[str, ...]) -> None:
    if set(names) != set(columns):
        raise ValueError("the data-usage rows of one batch must have the same columns")


def write_recordings(
    session: Session, recordings: Sequence[Recording], *, signer: SigningKey
) -> AppendResult | None:
    """Append the recordings' log entries as one batch and insert their rows.

    The message-log records are signed here, as one batch (see
    :mod:`joinedup.exchange.messagelog`).

    Changes: ``tlog_entry``, ``tlog_node``, one ``tlog_tree_head``, ``exchange_message``,
    ``exchange_data_usage``, ``exchange_call``; sets ``log_index`` on the given row dicts.
    Emits no event. Returns the append (``None`` when nothing needed the log).
    """
    kinds: list[str] = []
    leaves: list[bytes] = []
    messages: list[tuple[dict[str, Any], int]] = []  # (row, its position among the leaves)
    calls: list[dict[str, Any]] = []
    # the data-usage rows as value tuples in the columns ``usage_names`` (the log index to
    # come), their positions among the leaves, and the row dicts given (their log index is set)
    usage_names: tuple[str, ...] = ()
    usage_rows: list[tuple[Any, ...]] = []
    usage_at: list[int] = []
    usage_dicts: list[tuple[dict[str, Any], int]] = []
    # the recordings whose rows came in short: (shared values, own values, first leaf position)
    in_short: list[tuple[dict[str, Any], list[tuple[uuid.UUID, bytes, str]], int]] = []
    unsigned = [r.message for r in recordings if r.message is not None]
    message_leaves = iter(sign_batch(unsigned))  # one signature per member key and batch
    for recording in recordings:
        if recording.message is not None:
            messages.append((recording.message.row, len(leaves)))
            kinds.append(MESSAGE_KIND)
            leaves.append(next(message_leaves))
        start = len(leaves)
        if recording.shared_usages is not None:
            shared, own = recording.shared_usages
            in_short.append((shared, own, start))
            count = len(own)
        else:
            rows = recording.usages
            if rows:
                columns = (*_OWN, *(k for k in rows[0] if k not in _OWN and k != "log_index"))
                usage_names = usage_names or columns
                _same_columns(usage_names, columns)
                values_of = operator.itemgetter(*usage_names)
                usage_rows.extend(values_of(row) for row in rows)
                usage_dicts.extend(zip(rows, range(start, start + len(rows)), strict=True))
                usage_at.extend(range(start, start + len(rows)))
            count = len(rows)
        if count != len(recording.usage_leaves):
            raise ValueError("give one log leaf input per data-usage row")
        kinds.extend(USAGE_KIND for _ in range(count))
        leaves.extend(recording.usage_leaves)
        if recording.call is not None:
            calls.append(recording.call)
    result = None
    if leaves:
        result = append_batch(session, kinds=kinds, leaf_inputs=leaves, signer=signer)
        indices = result.indices
        for row, at in (*messages, *usage_dicts):
            row["log_index"] = indices[at]
        usage_rows = [(*row, indices[at]) for row, at in zip(usage_rows, usage_at, strict=True)]
    connection = session.connection()
    for table, dicts in ((_MESSAGES, [row for row, _ in messages]), (_CALLS, calls)):
        if dicts:
            names = tuple(dicts[0])
            values = operator.itemgetter(*names)
            insert_rows(connection, table, names, [values(row) for row in dicts])
    # in the order of the subject index (a stable sort: one person's records keep theirs): a
    # bulk read's tens of thousands of persons, in register order, land all over that index's
    # B-tree, a page out of the cache per row once the table is large; sorted, each page is
    # visited once (a re-evaluation of a million persons: 10 % faster)
    by_subject = operator.itemgetter(_OWN.index("subject_code"))
    if usage_rows:
        usage_rows.sort(key=by_subject)
        insert_rows(connection, _USAGES, (*usage_names, "log_index"), usage_rows)
    for shared, own, start in in_short:
        if own:
            assert result is not None  # their rows have log leaves
            indices = result.indices
            # what the rows share is bound once per statement on SQLite (insert_rows_sharing)
            written = [(*values, indices[start + i]) for i, values in enumerate(own)]
            written.sort(key=by_subject)
            insert_rows_sharing(connection, _USAGES, shared, (*_OWN, "log_index"), written)
    return result


def gather_batch(
    pending: queue.SimpleQueue[Any], stop: object, *, linger: float, max_batch: int
) -> tuple[list[Any], bool]:
    """Wait for the first item of ``pending``, then take what else is queued, lingering at most
    ``linger`` seconds for more (a few more items make the batch cheaper per item), up to
    ``max_batch``. Returns the batch and whether the ``stop`` marker was taken."""
    clock = time.monotonic
    item = pending.get()
    batch: list[Any] = []
    stopping = False
    deadline = clock() + linger
    while True:
        if item is stop:
            stopping = True
        else:
            batch.append(item)
        if len(batch) >= max_batch:
            break
        try:
            item = pending.get_nowait()
        except queue.Empty:
            wait = deadline - clock()
            if stopping or wait <= 0:
                break
            try:
                item = pending.get(timeout=wait)
            except queue.Empty:
                break
    return batch, stopping


class Recorder:
    """One writer thread per process that commits queued recordings in groups."""

    def __init__(
        self,
        database: Database,
        *,
        signer: SigningKey,
        max_batch: int = 256,
        linger: float = LINGER_SECONDS,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        if linger < 0:
            raise ValueError("linger must not be negative")
        self.linger = linger
        url = make_url(database.url)
        path = url.database if url.get_backend_name() == "sqlite" else None
        self._lock_path = f"{path}.recorder-lock" if path and path != ":memory:" else None
        self.database = database
        self.signer = signer
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.recordings = 0
        #: Recordings that could not be written (their waiters got the error).
        self.failed = 0

    @contextlib.contextmanager
    def _writers_lock(self) -> Iterator[None]:
        """On a SQLite file, take an exclusive ``flock`` shared by every process's recorder
        before the transaction. SQLite's own busy handler makes a waiting writer sleep in
        steps of up to 100 ms; a blocked ``flock`` wakes the moment the other process's
        commit releases it, and meanwhile this process's batch grows. The lock only saves
        time: when it cannot be taken (the database's directory is gone), the batch is written
        without it and fails or not on its own, instead of the error ending the writer thread
        and leaving every waiter, present and future, waiting forever."""
        if self._lock_path is None or fcntl is None:
            yield
            return
        with contextlib.ExitStack() as held:
            try:
                lock = held.enter_context(open(self._lock_path, "a+b"))  # per batch: ~10 µs
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
                held.callback(fcntl.flock, lock.fileno(), fcntl.LOCK_UN)
            except OSError as exc:
                log.warning("the recorders' lock could not be taken", error=type(exc).__name__)
            yield

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
        """Write everything queued, then stop the writer thread. When the database fails,
        each queued batch costs two attempts (whole, then its first recording alone) before
        its waiters get the error."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(_STOP)
        thread.join()

    def submit(self, recording: Recording) -> Future[None]:
        """Queue ``recording``; the future completes when its transaction has committed."""
        return self.submit_all((recording,))

    def submit_all(self, recordings: Sequence[Recording]) -> Future[None]:
        """Queue ``recordings`` together (one hand-over to the writer and one future for a
        page's reads, not one each): they are written in one transaction, and the future
        completes when it has committed — or fails, for all of them, when one of them could not
        be written."""
        future: Future[None] = Future()
        with self._lock:
            if self._thread is not None:
                self._queue.put((recordings, future))
                return future
        self._write([(recordings, future)])  # not running: write them here and now
        return future

    async def record(self, recording: Recording) -> None:
        """Submit and wait (without blocking the event loop) until it is committed.

        The writer wakes each event loop once per batch (one ``call_soon_threadsafe`` for all
        of that loop's waiters), not once per recording."""
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.enqueue(recording, waiter)
        await waiter

    def enqueue(self, recording: Recording, waiter: asyncio.Future[Any]) -> None:
        """Queue ``recording`` from any thread; ``waiter`` (a future of an event loop) gets
        ``None`` once the recording is committed, or the error that kept it from being
        committed, set on its own loop. Not running: written in the calling thread."""
        with self._lock:
            if self._thread is not None:
                self._queue.put(((recording,), waiter))
                return
        self._write([((recording,), waiter)])

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = gather_batch(
                self._queue, _STOP, linger=self.linger, max_batch=self.max_batch
            )
            if batch:
                stopping = self._write(batch, drain=not stopping) or stopping

    def _write(self, batch: list[_Item], *, drain: bool = False) -> bool:
        """Write ``batch`` and settle its waiters. With ``drain``, once the writers' lock is
        held (another process may have held it a while) also take what has queued meanwhile,
        up to ``max_batch``. Returns whether the stop marker was among what it took."""
        outcomes: list[tuple[Waiter, BaseException | None]] = []
        stopped = False
        with self._writers_lock():
            while drain and len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopped = True
                    break
                batch.append(item)
            self._write_into(batch, outcomes)
        deliver(outcomes)
        return stopped

    def _write_into(
        self,
        batch: list[_Item],
        outcomes: list[tuple[Waiter, BaseException | None]],
    ) -> BaseException | None:
        """Write ``batch`` (one by one if it fails) and add its waiters' outcomes; returns the
        error of a recording that failed alone."""
        try:
            with self.database.unit_of_work() as session:
                write_recordings(
                    session, [one for recordings, _ in batch for one in recordings],
                    signer=self.signer,
                )  # fmt: skip
        except Exception as exc:
            if len(batch) > 1:
                log.warning(
                    "exchange records batch failed; retrying one by one",
                    size=len(batch),
                    error=type(exc).__name__,
                )
                for position, one in enumerate(batch):
                    error = self._write_into([one], outcomes)
                    if isinstance(error, UNAVAILABLE):  # the database failed, not the record
                        rest = batch[position + 1 :]
                        if rest:
                            log.error(
                                "exchange records not written: the database is unavailable",
                                size=len(rest),
                                error=type(error).__name__,
                            )
                            self.failed += sum(len(recordings) for recordings, _ in rest)
                            outcomes.extend((waiter, error) for _, waiter in rest)
                        break
                return None
            log.exception("an exchange record could not be written")
            self.failed += len(batch[0][0])
            outcomes.append((batch[0][1], exc))
            return exc
        self.batches += 1
        self.recordings += sum(len(recordings) for recordings, _ in batch)
        outcomes.extend((waiter, None) for _, waiter in batch)
        return None


#: Who waits for a recording: a thread (``submit``) or a coroutine on an event loop (``record``).
Waiter = Future[None] | asyncio.Future[Any]
#: What the writer's queue holds: recordings submitted together, and who waits for them.
_Item = tuple[Sequence[Recording], Waiter]


def deliver(outcomes: list[tuple[Waiter, BaseException | None]]) -> None:
    """Settle the waiters: thread futures at once, each event loop's in one callback."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Waiter, BaseException | None]]] = {}
    for waiter, error in outcomes:
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, error))
        else:
            _settle(waiter, error)
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_settle_all, settled)


def _settle_all(outcomes: list[tuple[Waiter, BaseException | None]]) -> None:
    for waiter, error in outcomes:
        _settle(waiter, error)


def _settle(future: Waiter, error: BaseException | None) -> None:
    if future.done():  # the waiting request was cancelled (its client went away)
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


def recorder_of(app: Any) -> Recorder | None:
    """The group-commit recorder of the web application ``app`` (None outside one, e.g. in a
    worker or a test without the exchange's lifespan)."""
    mediation = getattr(getattr(app, "state", None), "exchange_mediation", None)
    recorder = getattr(mediation, "recorder", None)
    return recorder if isinstance(recorder, Recorder) else None
