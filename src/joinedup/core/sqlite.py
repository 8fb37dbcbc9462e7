"""SQLite's own mechanics for the embedded platform: each connection's settings, the
write-ahead log's background checkpoints, and the process's writers taking turns (PostgreSQL
needs none of it). :mod:`joinedup.core.db` builds its engines and units of work on these."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from joinedup.core.scheduling import PriorityBoost
from joinedup.core.settings import WRITER_PRIORITY_BOOST

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's busy handler alone
    fcntl = None  # type: ignore[assignment]

log = structlog.get_logger(__name__)


def configure_sqlite(engine: Engine, *, immediate: bool) -> None:
    """WAL, enforced foreign keys, and transactions SQLAlchemy controls (SAVEPOINT-safe).

    Writers start with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead
    of failing when a read lock cannot be upgraded; readers use a plain deferred ``BEGIN``,
    and their connections refuse writes (``PRAGMA query_only``: a write in a read transaction
    is an error, not a rollback that hides it).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA cache_size=-65536")
        # a long-running process checkpoints in the background (:class:`WalCheckpointer`);
        # a commit checkpoints only when the log has grown this far (pages) without one
        cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        if not immediate:  # a reader's connection, for its whole life
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # straight to the driver: through exec_driver_sql the statement cost ~40 µs of
        # SQLAlchemy's execution machinery, more than the rest of a small read transaction
        conn.connection.driver_connection.execute(begin)


#: Pages of write-ahead log after which a commit checkpoints it itself (SQLite's default is
#: 1,000). Each checkpoint copies every page the log holds into the database and syncs it:
#: a page written again and again (an index's last leaf) is copied once per checkpoint, so
#: checkpointing a tenth as often copied far fewer pages under the portal's load (server CPU
#: per page −12 % in ``bench portal``'s mixed pages), and a committing writer, which runs the
#: checkpoint holding the write lock, is held up less often.
WAL_AUTOCHECKPOINT_PAGES = 10_000
#: Seconds between a server process's background checkpoints (:class:`WalCheckpointer`).
CHECKPOINT_INTERVAL_S = 1.0


class WalCheckpointer:
    """A thread that checkpoints a SQLite file's write-ahead log every ``interval`` seconds,
    passively: it copies what no reader still needs, never waits for a lock, and holds up no
    reader or writer — a commit then seldom finds a log grown to
    :data:`WAL_AUTOCHECKPOINT_PAGES` and checkpoints it in the writer's own time. The log
    starts over at its beginning once a checkpoint has copied all of it. Started by the web
    application and the worker (long-running processes); stopped with them."""

    def __init__(self, path: str, *, interval: float = CHECKPOINT_INTERVAL_S) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="sqlite-checkpointer", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the thread (a checkpoint under way ends first; an async caller
        waits in a thread of its own: ``await asyncio.to_thread(checkpointer.stop)``)."""
        self._stop.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=30)
            if not thread.is_alive():
                self._thread = None

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        try:
            while not self._stop.wait(self.interval):
                try:
                    if connection is None:
                        # the file as it is (``mode=rw``): never a new, empty one where it is
                        # missing (the next turn tries again)
                        connection = sqlite3.connect(
                            f"{Path(self.path).resolve().as_uri()}?mode=rw",
                            uri=True,
                            timeout=0,
                            isolation_level=None,
                        )
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error:  # another process's checkpoint runs: the next turn
                    continue
        finally:
            if connection is not None:
                connection.close()


def sqlite_file(url: str) -> str | None:
    """The file of a SQLite ``url`` as SQLAlchemy reads it (its query, ``?timeout=…``, is not
    part of it); None for an in-memory database (or another kind)."""
    if not url.startswith("sqlite"):
        return None
    path = make_url(url).database
    return None if not path or ":memory:" in path else path


#: Seconds a writer waits for its turn before it begins anyway (SQLite's busy timeout then
#: applies, as without the turns: a cycle of waits ends in an error, never in a hang).
WRITER_TURN_TIMEOUT_S = 30.0

#: The priority every process's writers' turns raise their holders by: set from
#: ``Settings.sqlite_writer_priority`` when a platform process starts (:func:`set_writer_priority`).
#:
#: Why: one writer at a time, and under load more threads are ready to run than there are
#: cores. The holder was taken off its core like any other thread, and every other writer of
#: every process waited meanwhile: in ``bench proactive --events`` the relay's process was on
#: a core for only half of the time it held the turn (``/proc/…/schedstat``: much of the rest
#: ready to run, waiting for a core). Raised, the holder is the thread the scheduler runs
#: first, so the turn everything waits on is held for about as long as its work takes.
_priority = PriorityBoost(WRITER_PRIORITY_BOOST)


def set_writer_priority(boost: int) -> None:
    """Raise the holders of this process's writers' turns by ``boost`` steps of niceness from
    now on (0: not at all; see :class:`~joinedup.core.scheduling.PriorityBoost`)."""
    global _priority
    _priority = PriorityBoost(boost)


_writer_locks: dict[str, WriterTurns] = {}
_writer_locks_guard = threading.Lock()


class WriterTurns:
    """The process's writers' turns on one SQLite file: a lock that **any thread may give
    back**, taken again at once by the thread that took it.

    Any thread: a request's unit of work (``core.http.get_session``) is begun in one of
    FastAPI's worker threads and ended in another — a dependency's set-up and its exit are
    separate hand-overs — and a ``threading.RLock`` refused to be released there ("cannot
    release un-acquired lock": a 500, and the turn kept by a thread that had moved on, every
    other writer waiting :data:`WRITER_TURN_TIMEOUT_S` for it). Taken again: a nested unit
    of work in the thread that holds the turn meets SQLite's own lock, as with a reentrant
    lock (so does another request that thread runs meanwhile, rarely)."""

    def __init__(self, lock_path: str | None = None) -> None:
        self._lock = threading.Lock()
        self._guard = threading.Lock()
        self._holder: int | None = None  # the thread that took it
        self._depth = 0
        #: The holder's native thread id, when it was raised (:data:`_priority`)
        self._raised: int | None = None
        #: The file every process's writers lock (``flock``) while one holds the turn
        self.lock_path = lock_path
        self._file: Any = None

    def acquire(self, timeout: float) -> bool:
        """Take the turn, waiting at most ``timeout`` seconds (0: not at all); whether it
        was taken."""
        me = threading.get_ident()
        with self._guard:
            if self._depth and self._holder == me:
                self._depth += 1
                return True
        taken = self._lock.acquire(timeout=timeout) if timeout > 0 else self._lock.acquire(False)
        if taken:
            self._between_processes(timeout)
            native = threading.get_native_id()
            raised = _priority.raise_for(native) is not None
            with self._guard:
                self._holder, self._depth = me, 1
                self._raised = native if raised else None
        return taken

    def _between_processes(self, timeout: float) -> None:
        """With the process's turn taken, take the file's turn among processes (an exclusive
        ``flock`` of :attr:`lock_path`): a writer waiting for another process's is let in
        within a millisecond of its end, where SQLite's busy handler sleeps in steps of up to
        100 ms. It only saves time: where the lock cannot be taken, or is not given back
        within ``timeout`` seconds (a writer stuck in its transaction), the writer goes on to
        SQLite's own lock and its busy timeout — an error then, never a hang."""
        if self.lock_path is None or fcntl is None:
            return
        try:
            # opened per turn (~10 µs), closed when it is given back: no file is held open
            # by a process that stopped writing to the database
            self._file = open(self.lock_path, "a+b")  # noqa: SIM115 (closed in release)
            if not _flock_within(self._file.fileno(), timeout):
                log.warning("sqlite_writers_lock_timed_out", seconds=timeout)
                self._close()
        except OSError as exc:
            log.warning("sqlite_writers_lock_not_taken", error=type(exc).__name__)
            self._close()

    def _close(self) -> None:
        """Give the file's lock back (closing the file does)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def release(self) -> None:
        """Give back one taking (from any thread)."""
        with self._guard:
            if self._depth <= 0:
                raise RuntimeError("the writers' turn is not taken")
            self._depth -= 1
            if self._depth:
                return
            self._holder = None
            raised, self._raised = self._raised, None
            if raised is not None:  # (the thread that took it: the turn may end in another)
                PriorityBoost.restore(raised)
            self._close()  # (closing the file gives its lock back)
        self._lock.release()


def _flock_within(fd: int, timeout: float) -> bool:
    """An exclusive ``flock`` of ``fd`` within ``timeout`` seconds; whether it was taken.
    Tried again every 0.1 ms at first, then every millisecond (a blocking ``flock`` cannot
    be given a time limit in a thread)."""
    assert fcntl is not None
    pause, deadline = 0.0001, time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
        time.sleep(pause)
        pause = min(pause * 2, 0.001)


def writers_lock_file(path: str | Path) -> Path:
    """The file whose ``flock`` the writers of the SQLite file ``path`` take in turn."""
    return Path(f"{Path(path).resolve()}.writers-lock")


def writer_turns_of(path: str) -> WriterTurns:
    """The process's one writers' turns of the SQLite file ``path``."""
    key = str(Path(path).resolve())
    with _writer_locks_guard:
        found = _writer_locks.get(key)
        if found is None:
            found = _writer_locks[key] = WriterTurns(str(writers_lock_file(key)))
        return found


class WriterHolders:
    """Which process holds the writers' turn of a SQLite file, sampled from outside: every
    ``interval`` seconds a thread reads ``/proc/locks`` for the holder of the lock file's
    ``flock`` (:class:`WriterTurns`). One writer at a time: the share of the samples some
    process held it is the share of the time the database could take no other write, so
    events/s divided by it is the most this work per event allows, however many cores
    (``joinedup bench proactive``). It takes no lock and asks nothing of the processes
    watched; without ``/proc/locks`` (not Linux) or a lock file, no samples (:attr:`samples`
    0)."""

    def __init__(self, path: str | Path, *, interval: float = 0.002) -> None:
        self.lock_file = writers_lock_file(path)
        self.interval = interval
        #: Samples taken, and how many of them found each process (by id) holding the turn
        self.samples = 0
        self.held: dict[int, int] = {}
        #: Seconds from start to stop
        self.elapsed = 0.0
        self._started = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WriterHolders:
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="writer-holders", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> WriterHolders:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.elapsed = time.monotonic() - self._started
        return self

    def held_ms_per(self, pid: int, count: int) -> float:
        """Milliseconds ``pid`` held the turn per one of ``count`` things done meanwhile
        (its share of the samples times the time sampled)."""
        if not self.samples or not count:
            return 0.0
        return 1000 * self.elapsed * self.held.get(pid, 0) / self.samples / count

    def _run(self) -> None:
        try:
            found = self.lock_file.stat()
            locks = open("/proc/locks", "rb")  # noqa: SIM115 (closed below)
        except OSError:
            return
        # /proc/locks names a file "major:minor:inode", the device's numbers in hexadecimal
        device = os.major(found.st_dev), os.minor(found.st_dev)
        ident = f"{device[0]:02x}:{device[1]:02x}:{found.st_ino}".encode()
        with locks:
            while not self._stop.wait(self.interval):
                locks.seek(0)
                self.samples += 1
                holder = _flock_holder(locks.read(), ident)
                if holder is not None:
                    self.held[holder] = self.held.get(holder, 0) + 1


def _flock_holder(table: bytes, ident: bytes) -> int | None:
    """The process holding the ``flock`` of the file ``ident`` in a ``/proc/locks`` table
    (lines ``1: FLOCK  ADVISORY  WRITE 4242 fe:00:1474578 0 EOF``; a waiter's line has
    ``->`` after the number)."""
    for line in table.splitlines():
        if ident not in line:
            continue
        fields = line.split()
        if len(fields) >= 6 and fields[1] == b"FLOCK" and fields[5] == ident:
            return int(fields[4])
    return None


@contextmanager
def writers_turn(lock: WriterTurns | None) -> Iterator[None]:
    """Wait for the process's writers' turn of a SQLite file (nothing elsewhere).

    SQLite lets one writer in at a time; a writer that finds the write lock taken sleeps in
    its busy handler in steps of up to 100 ms and tries again, so under load the lock is often
    free while every waiter sleeps — the embedded platform's consumers, its write batcher and
    its requests spent most of their time asleep in ``BEGIN IMMEDIATE`` — and a waiter can be
    outrun again and again until the busy timeout (suspected, not proven, behind the 20–40 s
    tails of ``bench proactive --events``, gone since in the runs made). Waiting on a lock wakes
    the next writer the moment the last one's transaction ends. Reentrant: a thread's second
    transaction meets SQLite's own lock as before. Other processes' writers still meet
    SQLite's busy handler (the exchange's recorders share a ``flock`` of their own). The block
    may end in another thread than it began (:class:`WriterTurns`)."""
    if lock is None:
        yield
        return
    taken = lock.acquire(WRITER_TURN_TIMEOUT_S)
    try:
        yield
    finally:
        if taken:
            lock.release()
