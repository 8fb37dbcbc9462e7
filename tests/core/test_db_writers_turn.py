"""The writers of one process take turns on a lock before SQLite's write lock: a waiting
writer wakes when the last one's transaction ends, instead of sleeping in SQLite's busy
handler (steps of up to 100 ms) and failing after the busy timeout when outrun."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from structlog.testing import capture_logs

from joinedup.core import sqlite as sqlite_module
from joinedup.core.db import Database


def _free(lock: sqlite_module.WriterTurns) -> bool:
    """Whether another thread could take ``lock`` now."""
    found: list[bool] = []

    def probe() -> None:
        taken = lock.acquire(0)
        if taken:
            lock.release()
        found.append(taken)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join(5)
    return found[0]


def _make(database: Database) -> None:
    with database.unit_of_work() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))


def test_a_transaction_holds_the_turn_until_it_ends(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'a.db'}")
    _make(database)
    lock = database._writer_lock
    assert lock is not None
    assert _free(lock)
    with database.unit_of_work() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        assert not _free(lock)
    assert _free(lock)
    with pytest.raises(RuntimeError), database.unit_of_work() as session:
        raise RuntimeError("rolled back")
    assert _free(lock)  # given back by a failing transaction too
    database.dispose()


def test_two_databases_of_one_file_share_the_turn(tmp_path: Path) -> None:
    first = Database(f"sqlite:///{tmp_path / 'a.db'}")
    second = Database(f"sqlite:///{tmp_path / '.' / 'a.db'}")
    other = Database(f"sqlite:///{tmp_path / 'b.db'}")
    assert first._writer_lock is second._writer_lock
    assert first._writer_lock is not other._writer_lock
    for database in (first, second, other):
        database.dispose()


def test_waiting_writers_go_in_turn(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'a.db'}")
    _make(database)
    inside, release = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with database.unit_of_work() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            inside.set()
            release.wait(5)
            order.append("first commits")

    def second() -> None:
        with database.unit_of_work() as session:
            order.append("second begins")
            session.execute(text("INSERT INTO t VALUES (2)"))

    one = threading.Thread(target=first)
    one.start()
    assert inside.wait(5)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.3)
    assert two.is_alive()
    assert order == []
    release.set()
    one.join(5)
    two.join(5)
    assert order == ["first commits", "second begins"]
    with database.reading() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 2
    database.dispose()


def test_a_writer_whose_turn_does_not_come_begins_anyway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cycle of waits (a writer waiting on a thread that waits for its turn) ends as it did
    without the turns: SQLite's busy timeout decides, nothing hangs."""
    monkeypatch.setattr(sqlite_module, "WRITER_TURN_TIMEOUT_S", 0.1)
    database = Database(f"sqlite:///{tmp_path / 'a.db'}")
    _make(database)
    lock = database._writer_lock
    assert lock is not None
    held, done = threading.Event(), threading.Event()

    def hold() -> None:
        assert lock.acquire(5)
        held.set()
        done.wait(5)
        lock.release()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    with database.unit_of_work() as session:  # no transaction holds SQLite's lock: it goes on
        session.execute(text("INSERT INTO t VALUES (3)"))
    done.set()
    holder.join(5)
    assert _free(lock)
    database.dispose()


def test_a_thread_may_take_its_turn_again() -> None:
    lock = sqlite_module.WriterTurns()
    with sqlite_module.writers_turn(lock), sqlite_module.writers_turn(lock):
        assert not _free(lock)
    assert _free(lock)


def _in_thread(step: object) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            step()  # type: ignore[operator]
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    if errors:
        raise errors[0]


def test_a_unit_of_work_may_end_in_another_thread_than_it_began(tmp_path: Path) -> None:
    """As FastAPI runs a request's write session (``get_session``): its set-up in one worker
    thread, its exit in another. The turn is given back and the rows are committed (with a
    reentrant lock the exit raised "cannot release un-acquired lock" and the turn stayed taken,
    every other writer waiting 30 s for it)."""
    database = Database(f"sqlite:///{tmp_path / 'a.db'}")
    _make(database)
    lock = database._writer_lock
    assert lock is not None
    work = database.unit_of_work()
    begun, finish = threading.Event(), threading.Event()

    def begin() -> None:  # a worker thread that lives on, as the pool's do
        work.__enter__().execute(text("INSERT INTO t VALUES (4)"))
        begun.set()
        finish.wait(10)

    first = threading.Thread(target=begin)
    first.start()
    try:
        assert begun.wait(5)
        assert not _free(lock)
        _in_thread(lambda: work.__exit__(None, None, None))
        assert _free(lock)
    finally:
        finish.set()
        first.join(5)
    with database.reading() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    database.dispose()


def test_a_turn_given_back_more_often_than_taken_is_an_error() -> None:
    lock = sqlite_module.WriterTurns()
    assert lock.acquire(1)
    lock.release()
    with pytest.raises(RuntimeError, match="not taken"):
        lock.release()


def test_no_turns_where_the_database_serialises_writers_itself(tmp_path: Path) -> None:
    assert Database("sqlite:///:memory:")._writer_lock is None
    assert Database("postgresql+psycopg://nobody@127.0.0.1:1/none")._writer_lock is None


# between processes ----------------------------------------------------------------------------


def _locked_elsewhere(path: str) -> bool:
    """Whether another process's writer (another open file, as another process has) would
    have to wait for the file's writers' lock now."""
    import fcntl

    with open(path, "a+b") as other:
        try:
            fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
        return False


def test_a_transaction_holds_the_files_writers_lock_against_other_processes(
    tmp_path: Path,
) -> None:
    """Every process's writers of a file queue on one ``flock`` beside it while one holds its
    process's turn: a writer of another process waiting on it wakes when the transaction
    ends, not after a sleep of SQLite's busy handler. Taken once for nested transactions of
    the turn's thread, and given back from whichever thread ends the turn."""
    database = Database(f"sqlite:///{tmp_path / 'a.db'}")
    _make(database)
    path = f"{(tmp_path / 'a.db').resolve()}.writers-lock"
    try:
        assert not _locked_elsewhere(path)
        with database.unit_of_work() as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            assert _locked_elsewhere(path)
            with database.unit_of_work():  # the same thread's turn again: no wait on itself
                assert _locked_elsewhere(path)
            assert _locked_elsewhere(path)
        assert not _locked_elsewhere(path)
        with database.reading() as session:  # a reader takes no turn
            session.execute(text("SELECT count(*) FROM t")).scalar()
            assert not _locked_elsewhere(path)
        lock = sqlite_module.writer_turns_of(str(tmp_path / "a.db"))
        assert lock.acquire(1)
        ended = threading.Thread(target=lock.release)
        ended.start()
        ended.join(5)
        assert not _locked_elsewhere(path)
    finally:
        database.dispose()


def test_where_the_files_lock_cannot_be_taken_a_writer_goes_on_to_sqlites(
    tmp_path: Path,
) -> None:
    lock = sqlite_module.WriterTurns(str(tmp_path / "gone" / "a.db.writers-lock"))
    with capture_logs() as logs:
        assert lock.acquire(1)
        lock.release()
    assert [entry["event"] for entry in logs] == ["sqlite_writers_lock_not_taken"]
    assert _free(lock)


def test_a_files_lock_held_past_the_turns_time_limit_is_gone_around(tmp_path: Path) -> None:
    """Another process's writer stuck with the file's lock: this one waits the turn's time
    limit, then goes on to SQLite's own lock (its busy timeout decides), never hangs."""
    import fcntl

    path = str(tmp_path / "a.db.writers-lock")
    lock = sqlite_module.WriterTurns(path)
    with open(path, "a+b") as stuck:
        fcntl.flock(stuck.fileno(), fcntl.LOCK_EX)
        with capture_logs() as logs:
            assert lock.acquire(0.05)
            lock.release()
    assert [entry["event"] for entry in logs] == ["sqlite_writers_lock_timed_out"]
    assert not _locked_elsewhere(path)


_HOLD_THE_TURN = """
import sys, time
from sqlalchemy import text
from joinedup.core.db import Database
database = Database(sys.argv[1])
with database.unit_of_work() as session:
    session.execute(text("INSERT INTO t VALUES (2)"))
    print("holding", flush=True)
    time.sleep(0.4)
print("done", flush=True)
database.dispose()
"""


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads /proc/locks (Linux)")
def test_who_holds_the_writers_turn_is_sampled_from_outside(tmp_path: Path) -> None:
    """``WriterHolders`` finds the process holding the file's writers' lock in ``/proc/locks``
    (another process here, holding it 0.4 s of the time sampled), and no holder while nobody
    writes; a file no writer has locked yet gives no samples."""
    import subprocess
    import sys
    import time

    url = f"sqlite:///{tmp_path / 'a.db'}"
    database = Database(url)
    _make(database)  # (the lock file exists once a writer has taken its turn)
    database.dispose()
    holders = sqlite_module.WriterHolders(tmp_path / "a.db", interval=0.002).start()
    started = time.monotonic()
    time.sleep(0.2)
    with subprocess.Popen(
        [sys.executable, "-c", _HOLD_THE_TURN, url], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "holding"
        assert child.stdout.readline().strip() == "done"
        child.wait(10)
    time.sleep(0.2)
    holders.stop()
    sampled = time.monotonic() - started
    assert set(holders.held) == {child.pid}
    assert holders.held[child.pid] < holders.samples  # (not held before and after)
    held_s = sampled * holders.held[child.pid] / holders.samples
    assert 0.2 < held_s < 0.8, (holders.held, holders.samples, sampled)

    never = sqlite_module.WriterHolders(tmp_path / "b.db").start()
    time.sleep(0.05)
    assert never.stop().samples == 0


def test_a_waiters_line_in_the_lock_table_is_not_the_holder() -> None:
    table = (
        b"1: FLOCK  ADVISORY  WRITE 4242 fe:00:1474578 0 EOF\n"
        b"1: -> FLOCK  ADVISORY  WRITE 4343 fe:00:1474578 0 EOF\n"
        b"2: POSIX  ADVISORY  WRITE 3824 fe:00:1474576 0 EOF\n"
    )
    assert sqlite_module._flock_holder(table, b"fe:00:1474578") == 4242
    assert sqlite_module._flock_holder(table, b"fe:00:1474576") is None  # (not a flock)
    waiting = table.split(b"\n", 1)[1]
    assert sqlite_module._flock_holder(waiting, b"fe:00:1474578") is None  # a waiter only
