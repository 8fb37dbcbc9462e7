"""Which bus ``joinedup bench proactive --events`` runs the platform on: the in-process bus on
the outbox table (the embedded deployment, the default), or NATS JetStream (``--bus-url
nats://…``: the production path's bus). For NATS each phase gets a stream of its own
(``JUBENCH_<random>_<PHASE>``: a phase's copy of the database starts where the seeded one
did, and must not meet another phase's events), and every stream made is deleted at the end,
whatever happened. The benchmark asks the bus two things the platform's processes know only
for themselves: whether every consumer is ready, and whether every consumer has caught up."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Coroutine
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import text

from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.demo.bench_events_platform import on_this_machine, processes_cpu_seconds

#: The prefix of the streams a run makes on a NATS server (and a random part after it, so two
#: runs on one server never share one).
STREAM_PREFIX = "JUBENCH_"

T = TypeVar("T")


class BenchBusRefused(ValueError):
    """The bus the benchmark was given cannot be used: what to fix is in the message."""


class BenchBus:
    """The in-process bus: the consumers' leases and positions are rows of the database."""

    kind = "in-process"

    def environment(self, phase: str) -> dict[str, str]:
        """The platform's processes' settings for the phase ``phase`` (named even where it is
        the default: a ``JOINEDUP_BUS_URL`` in the caller's environment must not pass on)."""
        return {"JOINEDUP_BUS_URL": "inprocess://"}

    def ready(self, phase: str, database: Database, consumers: int) -> bool:
        """Whether ``consumers`` consumers are ready to take the phase's events: each holds
        its lease."""
        with database.reading() as session:
            held = session.execute(
                text("SELECT count(*) FROM bus_consumer_cursor WHERE lease_expires_at > :now"),
                {"now": utcnow().strftime("%Y-%m-%d %H:%M:%S.%f")},
            ).scalar_one()
        return int(held) >= consumers

    def caught_up(self, phase: str, database: Database) -> tuple[bool, Any]:
        """Whether every consumer has handled every event published in the phase, and a value
        that changes while they move (the benchmark waits for both to settle)."""
        with database.reading() as session:
            head, low = session.execute(
                text(
                    "SELECT (SELECT max(stream_seq) FROM outbox_event), "
                    "(SELECT min(position) FROM bus_consumer_cursor)"
                )
            ).one()
        return (low is not None and head is not None and low >= head), (head, low)

    #: How the bus server's processor time is named among the processes'.
    server_name = "bus server"

    def server_cpu_seconds(self) -> float | None:
        """The processor time the bus's server has used so far, where it runs on this machine
        as processes of its own (None: the in-process bus runs inside the platform's)."""
        return None

    def close(self) -> None:
        """Remove what was made (nothing here)."""


class NatsBenchBus(BenchBus):
    """NATS JetStream at ``url``: a stream of the run's own per phase, deleted by
    :meth:`close`. The benchmark's questions go through one connection of its own, on an event
    loop of its own (the benchmark's code is synchronous)."""

    kind = "NATS JetStream"

    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self.url = nats_url(url)
        self.prefix = f"{STREAM_PREFIX}{secrets.token_hex(4).upper()}"
        self.made: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._nc: Any = None
        self._js: Any = None
        try:
            self._run(self._connect(connect_timeout))
        except BaseException:
            self._loop.close()
            raise

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coroutine)

    async def _connect(self, timeout: float) -> None:
        import nats
        import nats.errors

        failures: list[BaseException] = []

        async def failed(error: BaseException) -> None:
            failures.append(error)

        # (nats-py tries a server it cannot reach again and again: the deadline ends it)
        try:
            self._nc = await asyncio.wait_for(
                nats.connect(
                    servers=[s.strip() for s in self.url.split(",") if s.strip()],
                    name="joinedup-bench",
                    connect_timeout=timeout,
                    allow_reconnect=False,
                    error_cb=failed,
                ),
                timeout,
            )
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            error = failures[-1] if failures else exc
            raise BenchBusRefused(
                f"NATS at {self.url} could not be reached within {timeout:g} s: {_reason(error)}"
            ) from exc
        self._js = self._nc.jetstream(timeout=timeout)
        try:
            await self._js.account_info()
        except (TimeoutError, nats.errors.Error) as exc:
            await self._nc.close()
            import nats.js.errors

            # (a server without JetStream answers "no responders": nothing more to say)
            said = (
                ""
                if isinstance(exc, nats.js.errors.ServiceUnavailableError)
                else f": {_reason(exc)}"
            )
            raise BenchBusRefused(
                f"the NATS server at {self.url} has no JetStream for this account (start it "
                f"with -js){said}"
            ) from exc

    def stream(self, phase: str) -> str:
        """The phase's stream (made by the platform's first process to connect)."""
        name = f"{self.prefix}_{phase.upper()}"
        if name not in self.made:
            self.made.append(name)
        return name

    def environment(self, phase: str) -> dict[str, str]:
        return {"JOINEDUP_BUS_URL": self.url, "JOINEDUP_NATS_STREAM": self.stream(phase)}

    def ready(self, phase: str, database: Database, consumers: int) -> bool:
        """Each consumer is a durable consumer on the phase's stream with a pull request
        waiting (its worker is fetching)."""
        return self._run(self._ready(self.stream(phase), consumers))

    async def _ready(self, stream: str, consumers: int) -> bool:
        import nats.js.errors

        try:
            found = await self._js.consumers_info(stream)
        except nats.js.errors.NotFoundError:
            return False  # (the stream is not made yet)
        return sum(1 for info in found if info.num_waiting) >= consumers

    def caught_up(self, phase: str, database: Database) -> tuple[bool, Any]:
        """Every durable consumer of the phase's stream has nothing pending and nothing
        delivered unacknowledged."""
        return self._run(self._caught_up(self.stream(phase)))

    async def _caught_up(self, stream: str) -> tuple[bool, Any]:
        import nats.js.errors

        try:
            info = await self._js.stream_info(stream)
            found = await self._js.consumers_info(stream)
        except nats.js.errors.NotFoundError:
            return False, None
        waiting = sum(c.num_pending + c.num_ack_pending for c in found)
        acknowledged = tuple(sorted(int(c.ack_floor.stream_seq) for c in found))
        return bool(found) and waiting == 0, (int(info.state.last_seq), waiting, acknowledged)

    server_name = "NATS server"

    def server_cpu_seconds(self) -> float | None:
        """The ``nats-server`` processes' on this machine, when every URL names this machine."""
        hosts = [urlsplit(server).hostname for server in self.url.split(",")]
        if not all(on_this_machine(host) for host in hosts):
            return None
        return processes_cpu_seconds("nats-server")

    def close(self) -> None:
        try:
            self._run(self._delete_streams())
        finally:
            self._loop.close()

    async def _delete_streams(self) -> None:
        import nats.js.errors

        try:
            for stream in reversed(self.made):
                # (its consumers go with it; a phase that did not start made none)
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    await self._js.delete_stream(stream)
            self.made.clear()
        finally:
            await self._nc.close()


def _reason(exc: BaseException) -> str:
    """What went wrong, in one line (some of nats-py's errors say nothing of themselves)."""
    said = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {said}" if said else type(exc).__name__


def nats_url(url: str) -> str:
    """``url`` as NATS servers' URLs (``nats://host:port``, several separated by commas), or
    :class:`BenchBusRefused` saying why not."""
    servers = [server.strip() for server in url.split(",") if server.strip()]
    for server in servers or [url]:
        try:
            parts = urlsplit(server)
            port = parts.port
        except ValueError:
            parts, port = None, None
        if parts is None or parts.scheme not in ("nats", "tls") or not parts.hostname:
            raise BenchBusRefused(
                f"--bus-url {url!r} is not a NATS server's URL: give one such as "
                "nats://127.0.0.1:4222; without it the benchmark runs on the in-process bus"
            )
        del port  # (parsed only to refuse a malformed one)
    return ",".join(servers)


def bench_bus(url: str | None) -> BenchBus:
    """The in-process bus, or (``url``) NATS JetStream at ``url``."""
    return BenchBus() if url is None else NatsBenchBus(url)


__all__ = [
    "STREAM_PREFIX",
    "BenchBus",
    "BenchBusRefused",
    "NatsBenchBus",
    "bench_bus",
    "nats_url",
]
