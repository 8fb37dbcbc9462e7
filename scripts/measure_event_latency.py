"""Event → consumer latency: from the commit of an event to its consumer's handler.

A quick measurement, not a ``joinedup bench`` command: a fresh SQLite file, the embedded
workers (the outbox relay and one consumer, single-event or batched) in this process, and a
thread that commits one event per transaction at a steady rate, as use cases do. The handler
notes how long after its transaction committed each event reached it; the script prints
p50/p99/max in milliseconds.

    .venv/bin/python scripts/measure_event_latency.py [--events 300] [--rate 100] [--batch 0]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import ClassVar

from sqlalchemy.orm import Session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--rate", type=float, default=100.0, help="events per second")
    parser.add_argument("--batch", type=int, default=0, help="batch consumer of this size")
    parser.add_argument("--bus", default="inprocess://")
    arguments = parser.parse_args()

    from joinedup.core.consumers import ConsumerRegistry, consumer
    from joinedup.core.db import Database
    from joinedup.core.events import Delivered, Event, emit
    from joinedup.core.settings import Settings
    from joinedup.core.worker import EmbeddedWorkers
    from joinedup.migrations import upgrade

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Measured(Event):
        name: ClassVar[str] = "bench.latency_measured.v1"
        n: int

    directory = Path(tempfile.mkdtemp(prefix="joinedup-latency-"))
    url = f"sqlite:///{directory / 'latency.db'}"
    upgrade(url)
    database = Database(url)
    settings = Settings(
        environment="test",
        data_dir=directory,
        database_url=url,
        bus_url=arguments.bus,
        nats_stream=f"LATENCY_{os.getpid()}",
        log_level="WARNING",
    )
    committed: dict[int, float] = {}
    latencies: list[float] = []
    lock = threading.Lock()
    registry = ConsumerRegistry()

    def note(event: Delivered) -> None:
        arrived = time.perf_counter()
        with lock:
            latencies.append(arrived - committed.get(event.payload["n"], arrived))

    if arguments.batch:

        @consumer("bench.latency", events=[Measured.name], batch=arguments.batch, into=registry)
        def handle_batch(session: Session, events: list[Delivered]) -> None:
            for event in events:
                note(event)

    else:

        @consumer("bench.latency", events=[Measured.name], into=registry)
        def handle(session: Session, event: Delivered) -> None:
            note(event)

    def produce() -> None:
        interval = 1.0 / arguments.rate
        next_at = time.perf_counter()
        for n in range(arguments.events):
            with database.unit_of_work() as session:
                emit(session, Measured(n=n))
            with lock:
                committed[n] = time.perf_counter()
            next_at += interval
            time.sleep(max(next_at - time.perf_counter(), 0))

    async def run() -> None:
        workers = EmbeddedWorkers(settings, database, consumers_from=registry)
        await workers.start()
        try:
            await asyncio.sleep(0.5)
            await asyncio.to_thread(produce)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with lock:
                    if len(latencies) >= arguments.events:
                        break
                await asyncio.sleep(0.05)
        finally:
            await workers.stop()

    async def drop_stream() -> None:  # the run's own JetStream stream
        import nats

        nc = await nats.connect(arguments.bus)
        try:
            await nc.jetstream().delete_stream(settings.nats_stream)
        finally:
            await nc.close()

    try:
        asyncio.run(run())
    finally:
        if arguments.bus.startswith("nats"):
            asyncio.run(drop_stream())
        database.dispose()
        shutil.rmtree(directory, ignore_errors=True)
    ordered = sorted(latencies)

    def p(q: float) -> float:
        return round(ordered[min(int(q / 100 * len(ordered)), len(ordered) - 1)] * 1000, 2)

    sys.stdout.write(
        json.dumps(
            {
                "events": len(ordered),
                "rate_per_s": arguments.rate,
                "batch": arguments.batch,
                "bus": arguments.bus.split(":", 1)[0],
                "p50_ms": p(50),
                "p99_ms": p(99),
                "max_ms": round(ordered[-1] * 1000, 2) if ordered else None,
            }
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
