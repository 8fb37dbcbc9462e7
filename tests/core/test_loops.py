"""Worker loops run next to the relay and the consumers, are restarted when they fail and stop
with the workers."""

from __future__ import annotations

import asyncio

import pytest

from joinedup.core import worker
from joinedup.core.consumers import ConsumerRegistry
from joinedup.core.db import Database
from joinedup.core.loops import LoopRegistry, loop
from joinedup.core.settings import Settings
from joinedup.core.worker import EmbeddedWorkers


def test_loops_run_are_restarted_after_a_failure_and_stop_with_the_workers(
    settings: Settings, sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "RESTART_DELAY", 0.01)
    loops = LoopRegistry()
    runs: list[str] = []

    @loop("test.flaky", into=loops)
    async def flaky(settings: Settings, database: Database, stop: asyncio.Event) -> None:
        runs.append("started")
        if len(runs) == 1:
            raise RuntimeError("the first run fails")
        await stop.wait()
        runs.append("stopped")

    async def scenario() -> None:
        workers = EmbeddedWorkers(
            settings, sqlite_database, relay=False, consumers_from=ConsumerRegistry(),
            loops_from=loops,
        )  # fmt: skip
        await workers.start()
        for _ in range(200):
            if len(runs) >= 2:
                break
            await asyncio.sleep(0.01)
        await workers.stop()

    asyncio.run(scenario())
    assert runs == ["started", "started", "stopped"]
