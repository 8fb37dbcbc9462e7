"""A worker process for the Tell Us Once kill test: every context's consumers, the relay,
the daily jobs and the loops, as ``joinedup worker`` runs them.

    python tests/tellusonce/tuo_worker.py [--hang-after N] [--wait]

With ``--hang-after N`` the dispatcher delivers one notification at a time and, when the
N-th agency has answered (it has acted and committed that in its own system), reports
``@@ hung N`` and hangs *before* the answer is recorded — waiting to be killed mid-fan-out.
With ``--wait`` it imports everything, reports ``@@ ready`` and starts only when a line
arrives on stdin (a restart without paying the interpreter's start-up in the test). Settings
come from the ``JOINEDUP_*`` environment. Reports go to stdout as ``@@`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys

import httpx

from joinedup.core.db import Database
from joinedup.core.logging import configure_logging
from joinedup.core.loops import LoopRegistry, loop
from joinedup.core.settings import Settings
from joinedup.core.worker import EmbeddedWorkers
from joinedup.exchange import provider_transport
from joinedup.platform import handler_modules
from joinedup.tellusonce.dispatcher import Dispatcher


def report(line: str) -> None:
    print(f"@@ {line}", flush=True)  # noqa: T201 (the test reads this protocol from stdout)


class HangAfter(httpx.AsyncBaseTransport):
    """Passes requests on; after the ``after``-th answer, reports and never returns it."""

    def __init__(self, inner: httpx.AsyncBaseTransport, after: int) -> None:
        self.inner = inner
        self.after = after
        self.answered = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        self.answered += 1
        if self.answered == self.after:
            await response.aread()
            report(f"hung {self.answered}")
            await asyncio.sleep(3600)
        return response


def hanging_loops(after: int) -> LoopRegistry:
    loops = LoopRegistry()

    @loop("tellusonce.dispatch", into=loops)
    async def dispatch(settings: Settings, database: Database, stop: asyncio.Event) -> None:
        transport = HangAfter(provider_transport(settings), after)
        async with httpx.AsyncClient(transport=transport) as http:
            await Dispatcher(settings, database, http=http, concurrency=1, poll_interval=0.05).run(
                stop
            )

    return loops


async def run(settings: Settings, hang_after: int | None) -> None:
    database = Database(settings.resolved_database_url, pool_size=4)
    workers = EmbeddedWorkers(
        settings,
        database,
        loops_from=hanging_loops(hang_after) if hang_after else None,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await workers.start()
    report("started")
    await stop.wait()
    await workers.stop()
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hang-after", type=int, default=None)
    parser.add_argument("--wait", action="store_true")
    args = parser.parse_args()
    handler_modules()  # every context's consumers, jobs and loops, the demo's agency systems
    if args.wait:
        report("ready")
        sys.stdin.readline()
    settings = Settings()
    configure_logging(settings)
    asyncio.run(run(settings, args.hang_after))
    report("stopped")


if __name__ == "__main__":
    main()
