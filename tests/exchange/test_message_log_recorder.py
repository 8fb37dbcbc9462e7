"""The recorder: group commit, durability (committed before the answer), flush on stop."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from records_support import CLIENT_KEY, PROVIDER_KEY, recording
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.core.translog import verify_log
from joinedup.core.translog.models import TreeHead
from joinedup.exchange import recorder as recorder_module
from joinedup.exchange.messagelog import signatures_valid
from joinedup.exchange.recorder import Recorder, Recording
from joinedup.exchange.records import CallRecord, DataUsageRecord, MessageLogRecord
from joinedup.exchange.verification import verify_exchange_records

LOG_KEY = SigningKey.generate()


def _count(database: Database, model: type) -> int:
    with database.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_concurrent_recordings_share_transactions_and_tree_heads(database: Database) -> None:
    recorder = Recorder(database, signer=LOG_KEY, max_batch=64)
    recorder.start()
    futures: list[Future[None]] = []
    lock = threading.Lock()

    def submit(count: int) -> None:
        for _ in range(count):
            future = recorder.submit(recording(subjects=("39001010008", "51501010002")))
            with lock:
                futures.append(future)

    threads = [threading.Thread(target=submit, args=(25,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for future in futures:
        future.result(timeout=60)
        # durability: a completed future means its rows are committed (seen by a new session)
    assert _count(database, MessageLogRecord) == 200
    assert _count(database, DataUsageRecord) == 400
    assert _count(database, CallRecord) == 200
    assert recorder.recordings == 200
    assert recorder.batches < 200  # grouped: fewer transactions than recordings
    assert _count(database, TreeHead) == recorder.batches  # one signed tree head per batch
    recorder.stop()

    assert verify_log(database.url, keys=[LOG_KEY.verifying_key]).intact
    checked, findings = verify_exchange_records(database.url)
    assert (checked, findings) == (600, [])
    with database.reading() as session:
        row = session.scalars(select(MessageLogRecord).limit(1)).one()
        values = {c.key: getattr(row, c.key) for c in MessageLogRecord.__table__.columns}
    assert signatures_valid(
        values, client=CLIENT_KEY.verifying_key, provider=PROVIDER_KEY.verifying_key
    )
    assert not signatures_valid(
        values, client=PROVIDER_KEY.verifying_key, provider=PROVIDER_KEY.verifying_key
    )


def test_each_future_completes_only_after_its_commit(database: Database) -> None:
    recorder = Recorder(database, signer=LOG_KEY)
    recorder.start()
    try:
        one = recording()
        recorder.submit(one).result(timeout=30)
        assert one.message is not None
        with database.reading() as session:
            stored = session.scalar(
                select(MessageLogRecord.log_index).where(
                    MessageLogRecord.message_id == one.message.row["message_id"]
                )
            )
        assert stored == one.message.row["log_index"]
    finally:
        recorder.stop()


def test_stop_writes_everything_queued(database: Database) -> None:
    recorder = Recorder(database, signer=LOG_KEY)
    recorder.start()
    futures = [recorder.submit(recording()) for _ in range(50)]
    recorder.stop()
    assert all(future.done() and future.exception() is None for future in futures)
    assert _count(database, MessageLogRecord) == 50
    assert not recorder.running
    # after stop, a recording is written in the submitting thread
    late = recorder.submit(recording())
    assert late.done()
    assert late.exception() is None
    assert _count(database, MessageLogRecord) == 51


def test_a_bad_recording_fails_alone(database: Database) -> None:
    recorder = Recorder(database, signer=LOG_KEY)
    good = [recording() for _ in range(5)]
    bad = recording()
    assert bad.message is not None
    bad.message.row["method"] = None  # NOT NULL: the insert fails
    # queued before the writer starts, so they land in one batch
    pairs: list[tuple[Recording, Future[None]]] = [
        (r, Future()) for r in [*good[:3], bad, *good[3:]]
    ]
    for one, future in pairs:
        recorder._queue.put(((one,), future))
    futures = [future for r, future in pairs if r is not bad]
    bad_future = pairs[3][1]
    recorder.start()
    for future in futures:
        future.result(timeout=30)
    with pytest.raises(Exception, match="method"):
        bad_future.result(timeout=30)
    recorder.stop()
    assert _count(database, MessageLogRecord) == 5
    assert verify_exchange_records(database.url)[1] == []


def test_recordings_submitted_together_are_committed_or_refused_together(
    database: Database,
) -> None:
    """A page's reads go to the writer as one item: one future for all of them, written in
    one transaction; when one of them cannot be written, none of that page's are, and the
    other pages' recordings of the same batch are written all the same."""
    recorder = Recorder(database, signer=LOG_KEY)
    page = [recording() for _ in range(7)]
    broken = [recording() for _ in range(3)]
    assert broken[1].message is not None
    broken[1].message.row["method"] = None  # NOT NULL: the insert fails
    alone = recording()
    recorder.start()
    try:
        together = recorder.submit_all(page)
        refused = recorder.submit_all(broken)
        single = recorder.submit(alone)
        together.result(timeout=30)
        single.result(timeout=30)
        with pytest.raises(Exception, match="method"):
            refused.result(timeout=30)
    finally:
        recorder.stop()
    assert _count(database, MessageLogRecord) == 8  # the page's seven and the single one
    assert (recorder.recordings, recorder.failed) == (8, 3)
    with database.reading() as session:
        ids = set(session.scalars(select(MessageLogRecord.message_id)))
    assert {r.message.row["message_id"] for r in [*page, alone] if r.message} == ids
    assert verify_exchange_records(database.url)[1] == []


def test_a_recording_without_log_entries_is_only_monitoring(database: Database) -> None:
    recorder = Recorder(database, signer=LOG_KEY)
    full = recording()
    only_call = Recording(call=full.call)
    recorder.submit(only_call).result(timeout=30)
    assert _count(database, CallRecord) == 1
    assert _count(database, TreeHead) == 0


def _queued(recorder: Recorder, count: int) -> list[Future[None]]:
    """``count`` recordings queued before the writer starts (so they make one batch)."""
    futures: list[Future[None]] = []
    for _ in range(count):
        future: Future[None] = Future()
        recorder._queue.put(((recording(),), future))
        futures.append(future)
    return futures


def _stops_within(recorder: Recorder, seconds: float) -> bool:
    # stop() in a thread of its own, so that a recorder that never stops fails the test
    # instead of hanging it
    stopping = threading.Thread(target=recorder.stop, daemon=True)
    stopping.start()
    stopping.join(timeout=seconds)
    return not stopping.is_alive()


def test_stop_returns_and_answers_every_waiter_when_every_write_fails(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[int] = []

    def unavailable(session: Any, recordings: list[Recording], **kwargs: Any) -> None:
        attempts.append(len(recordings))
        time.sleep(0.05)  # a busy or connect timeout, much shortened
        raise OperationalError("INSERT", None, sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(recorder_module, "write_recordings", unavailable)
    recorder = Recorder(sqlite_database, signer=LOG_KEY)
    futures = _queued(recorder, 200)
    with capture_logs() as logs:
        recorder.start()
        # each recording retried alone would take 200 x 50 ms
        assert _stops_within(recorder, 5)
    for future in futures:
        assert isinstance(future.exception(timeout=0), OperationalError)
    assert attempts == [200, 1]  # the batch, then its first recording alone: the database failed
    assert (recorder.failed, recorder.recordings, recorder.batches) == (200, 0, 0)
    assert {
        "event": "exchange records not written: the database is unavailable",
        "size": 199,
        "error": "OperationalError",
        "log_level": "error",
    } in logs
    assert "39001010008" not in repr(logs)  # the data subject's personal code
    assert _count(sqlite_database, MessageLogRecord) == 0


def test_a_recorder_whose_database_is_gone_answers_every_waiter(
    sqlite_template: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    shutil.copyfile(sqlite_template, folder / "joinedup.db")
    database = Database(f"sqlite:///{folder / 'joinedup.db'}")
    recorder = Recorder(database, signer=LOG_KEY)
    futures = _queued(recorder, 5)
    shutil.rmtree(folder)  # the database and the recorders' lock file with it
    try:
        with capture_logs() as logs:
            recorder.start()
            for future in futures:
                assert isinstance(future.exception(timeout=30), OperationalError)
            assert _stops_within(recorder, 30)
            assert recorder.failed == 5
            # stopped: a late recording is written (and fails) in the submitting thread
            late = recorder.submit(recording())
        assert isinstance(late.exception(timeout=0), OperationalError)
        assert recorder.failed == 6
        assert any(e["event"] == "the recorders' lock could not be taken" for e in logs)
    finally:
        database.dispose()
