"""The recorder: group commit, durability (committed before the answer), flush on stop."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest
from records_support import CLIENT_KEY, PROVIDER_KEY, recording
from sqlalchemy import func, select

from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.core.translog import verify_log
from joinedup.core.translog.models import TreeHead
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
    for pair in pairs:
        recorder._queue.put(pair)
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


def test_a_recording_without_log_entries_is_only_monitoring(database: Database) -> None:
    recorder = Recorder(database, signer=LOG_KEY)
    full = recording()
    only_call = Recording(call=full.call)
    recorder.submit(only_call).result(timeout=30)
    assert _count(database, CallRecord) == 1
    assert _count(database, TreeHead) == 0
