"""The write batcher's thread stops even when the group that took the stop marker fails."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

import pytest
from records_support import CLIENT_KEY

from joinedup.core.db import Database
from joinedup.exchange.recorder import Recorder
from joinedup.exchange.write_batcher import WriteBatcher, WriteJob
from joinedup.exchange.write_services import writers_lock


def _job() -> tuple[WriteJob, Future[None]]:
    waiter: Future[None] = Future()
    job = WriteJob(
        call=Any,  # type: ignore[arg-type]  # never read: the group fails before it is written
        write=Any,  # type: ignore[arg-type]
        started_ns=time.perf_counter_ns(),
        logged_at=datetime.now(UTC),
        waiter=waiter,  # type: ignore[arg-type]
    )
    return job, waiter


def test_stop_returns_when_the_write_that_drained_the_stop_marker_fails(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = WriteBatcher(
        sqlite_database, signer=CLIENT_KEY, recorder=Recorder(sqlite_database, signer=CLIENT_KEY)
    )

    def broken(batch: list[WriteJob]) -> BaseException | None:
        raise RuntimeError("a bug after the queue was drained")

    monkeypatch.setattr(batcher, "_write_group", broken)
    first, first_waiter = _job()
    second, second_waiter = _job()
    batcher.start()
    # the writer takes ``first``, then waits for the writers' lock while ``second`` and the
    # stop marker queue up behind it: it drains both before the group fails
    with writers_lock(sqlite_database):
        batcher.enqueue(first)
        time.sleep(0.1)  # longer than the linger: ``first`` is a batch of its own
        batcher.enqueue(second)
        stopping = threading.Thread(target=batcher.stop, daemon=True)
        stopping.start()
        time.sleep(0.05)
    stopping.join(timeout=5)
    assert not stopping.is_alive(), "stop() did not return: the stop marker was lost"
    for waiter in (first_waiter, second_waiter):
        assert isinstance(waiter.exception(timeout=0), RuntimeError)
    assert not batcher.running
