"""The worker is killed (SIGKILL) in the middle of telling the agencies and started again:
each agency still acts exactly once, and the spouse gets one letter. A real process kill, on a
file SQLite database with the in-process bus, and on PostgreSQL with NATS JetStream."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from tuo_support import (
    NATIONAL,
    completed,
    letters_to,
    married_couples,
    record_death,
    rows,
    scalar,
    store,
    tuo_settings,
    wait_until,
)

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from nats_support import delete_stream

HERE = Path(__file__).resolve().parent
NATS_URL = os.environ.get("JOINEDUP_TEST_NATS_URL", "nats://127.0.0.1:4222")


class Worker:
    """``tuo_worker.py`` in a subprocess, reporting ``@@`` lines on its stdout."""

    def __init__(self, settings: Settings, log: Path, *arguments: str) -> None:
        env = {
            **os.environ,
            "JOINEDUP_ENVIRONMENT": "test",
            "JOINEDUP_DATA_DIR": str(settings.data_dir),
            "JOINEDUP_DATABASE_URL": settings.resolved_database_url,
            "JOINEDUP_BUS_URL": settings.bus_url,
            "JOINEDUP_NATS_STREAM": settings.nats_stream,
            "JOINEDUP_BUS_ACK_WAIT": "2",
            "JOINEDUP_BUS_RETRY_DELAY": "0.05",
            "JOINEDUP_TELL_US_ONCE_LEASE_SECONDS": str(settings.tell_us_once_lease_seconds),
            "JOINEDUP_TELL_US_ONCE_RETRY_DELAY": str(settings.tell_us_once_retry_delay),
            "JOINEDUP_LOG_FORMAT": "console",
        }
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "tuo_worker.py"), *arguments],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("@@"):
                self._lines.put(line[2:].strip())

    def wait_for(self, prefix: str, *, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"the worker never reported {prefix!r}")
            with contextlib.suppress(queue.Empty):
                line = self._lines.get(timeout=min(remaining, 0.5))
                if line.startswith(prefix):
                    return line
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited ({self.process.returncode})")

    def go(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(b"go\n")
        self.process.stdin.flush()

    def stop(self, sig: int) -> None:
        if self._log.closed:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self._reader.join(timeout=5)
            for pipe in (self.process.stdout, self.process.stdin):
                if pipe is not None:
                    pipe.close()
            if not self._log.closed:
                self._log.close()


@pytest.fixture
def stack(
    seeded_database: Database, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Database, Settings]]:
    postgres = seeded_database.dialect == "postgresql"
    bus = request.getfixturevalue("nats_url") if postgres else "inprocess://"
    settings = tuo_settings(
        tmp_path / "var",
        database_url=seeded_database.url,
        bus_url=bus,
        nats_stream=f"TEST_TUO_{uuid.uuid4().hex[:10].upper()}",
        tell_us_once_lease_seconds=1.0,
        tell_us_once_retry_delay=0.05,
    )
    try:
        yield seeded_database, settings
    finally:
        if postgres:
            delete_stream(settings.bus_url, settings.nats_stream)


@pytest.mark.parametrize(
    "seeded_database",
    ["sqlite", pytest.param("postgres", marks=[pytest.mark.postgres, pytest.mark.nats])],
    indirect=True,
)
@pytest.mark.slow
def test_a_worker_killed_mid_fan_out_still_informs_each_agency_exactly_once(
    stack: tuple[Database, Settings], tmp_path: Path
) -> None:
    database, settings = stack
    couple = married_couples(database)[0]
    agencies = store(settings)
    everyone = sorted([*NATIONAL, couple.municipality_key])
    record_death(database, couple.deceased, "CRVS-TUO-KILL")

    first = Worker(settings, tmp_path / "worker-1.log", "--hang-after", "2")
    # the worker that will be started after the kill, its interpreter loaded meanwhile
    second = Worker(settings, tmp_path / "worker-2.log", "--wait")
    try:
        first.wait_for("hung 2")
        # two agencies have acted; the second one's answer was never recorded
        assert len(agencies.handled()) == 2
        assert (
            scalar(
                database,
                "SELECT count(*) FROM tellusonce_notification WHERE status = 'acknowledged'",
            )
            == 1
        )
        first.stop(signal.SIGKILL)
    finally:
        first.stop(signal.SIGKILL)
    assert completed(database) == 0

    try:
        second.wait_for("ready")
        second.go()
        second.wait_for("started")
        wait_until(lambda: completed(database) == 1, timeout=60, what="every agency answered")
    finally:
        second.stop(signal.SIGTERM)

    handled = agencies.handled()
    assert sorted(system for system, _, _ in handled) == everyone  # each acted exactly once
    received = [system for system, _ in agencies.received()]
    repeated = handled[1][0]
    assert received.count(repeated) == 2  # the killed delivery was sent again …
    assert len({m for s, m in agencies.received() if s == repeated}) == 1  # … same message id
    assert rows(database, "SELECT DISTINCT status FROM tellusonce_notification") == [
        ("acknowledged",)
    ]
    assert scalar(database, "SELECT count(*) FROM tellusonce_life_event") == 1
    assert len(letters_to(database, couple.spouse)) == 1
