"""A worker process for the kill tests: the relay and/or one consumer against the test stack.

    python tests/core/worker_process.py --role relay|consumer|both
        [--pause-relay-at SEQ] [--pause-handler-at N] [--relay-batch K]

Settings come from the ``JOINEDUP_*`` environment like any worker's. The consumer
``kill.effects`` records one ``bus_test_effect`` row per ``test.thing_happened.v1``.
Reports go to stdout as lines starting with ``@@`` (logs go to stderr):

- ``@@ started`` once the loops run;
- ``@@ relay-paused FIRST LAST`` when the batch holding stream_seq SEQ was published to the
  bus but not yet marked published (the relay then hangs there, waiting to be killed);
- ``@@ handler-paused N`` when the handler of event N wrote its row and has not committed;
- ``@@ stopped`` after a graceful stop (SIGTERM).

Without pause options it runs :func:`joinedup.core.worker.run_worker` itself, the code
behind ``joinedup worker``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from collections.abc import Sequence

from bus_harness import ThingHappened, record_effect
from sqlalchemy.orm import Session

from joinedup.core.bus import create_bus
from joinedup.core.consumers import ConsumerRegistry, consumer
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.logging import configure_logging
from joinedup.core.settings import Settings
from joinedup.core.worker import EmbeddedWorkers, run_worker

CONSUMER = "kill.effects"


def report(line: str) -> None:
    print(f"@@ {line}", flush=True)  # noqa: T201 (the test reads this protocol from stdout)


def consumers(pause_at: int | None) -> ConsumerRegistry:
    registry = ConsumerRegistry()
    write = record_effect(CONSUMER)

    @consumer(CONSUMER, events=[ThingHappened.name], into=registry)
    def handle(session: Session, event: Delivered) -> None:
        write(session, event)
        if event.payload["n"] == pause_at:
            session.flush()
            report(f"handler-paused {event.payload['n']}")
            time.sleep(3600)

    return registry


async def run_pausing(settings: Settings, args: argparse.Namespace) -> None:
    database = Database(settings.resolved_database_url, pool_size=4)
    bus = create_bus(settings, database)
    await bus.connect()
    if args.pause_relay_at is not None:
        publish = bus.publish

        async def publish_then_hang(events: Sequence[Delivered]) -> None:
            await publish(events)
            if events[0].stream_seq <= args.pause_relay_at <= events[-1].stream_seq:
                report(f"relay-paused {events[0].stream_seq} {events[-1].stream_seq}")
                await asyncio.sleep(3600)

        bus.publish = publish_then_hang  # type: ignore[method-assign]
        # the in-process bus carries nothing, so its relay never calls publish: made to, here,
        # for the hang between numbering a batch and committing it (its publish does nothing)
        bus.carries_events = True  # type: ignore[misc]
    workers = EmbeddedWorkers(
        settings,
        database,
        relay=args.role in ("relay", "both"),
        consumers=[] if args.role == "relay" else None,
        consumers_from=consumers(args.pause_handler_at),
        bus=bus,
        relay_batch_size=args.relay_batch,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await workers.start()
    report("started")
    await stop.wait()
    await workers.stop()
    await bus.close()
    database.dispose()


async def run_plain(settings: Settings, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_worker(
            settings,
            stop=stop,
            relay=args.role in ("relay", "both"),
            consumers=[] if args.role == "relay" else None,
            consumers_from=consumers(None),
        )
    )
    # run_worker turns SIGTERM into ``stop``; "started" once the loops had a moment to begin.
    await asyncio.sleep(0.2)
    report("started")
    await task


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["relay", "consumer", "both"], required=True)
    parser.add_argument("--pause-relay-at", type=int, default=None)
    parser.add_argument("--pause-handler-at", type=int, default=None)
    parser.add_argument("--relay-batch", type=int, default=10)
    args = parser.parse_args()
    settings = Settings()
    configure_logging(settings)
    pausing = args.pause_relay_at is not None or args.pause_handler_at is not None
    asyncio.run(run_pausing(settings, args) if pausing else run_plain(settings, args))
    report("stopped")


if __name__ == "__main__":
    main()
