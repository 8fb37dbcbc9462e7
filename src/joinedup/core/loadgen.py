"""A lean HTTP/1.1 load generator for the benchmarks (exchange, portal, life events).

httpx spends more time per request than the server it measures, so it cannot saturate one.
This client opens ``connections`` keep-alive connections with :func:`asyncio.open_connection`,
sends pre-built request bytes, and reads each answer by its ``Content-Length`` (the platform
never answers chunked to these requests). Each connection sends its next request when the
previous answer is complete; latency is measured per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from joinedup.core.benchmark import percentile


@dataclass
class LoadResult:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    #: Each measured latency's request, by its index in the requests driven (parallel to
    #: ``latencies``): what a mix of pages spent on each (:meth:`p_of`).
    indexes: list[int] = field(default_factory=list)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p(self, pct: float) -> float:
        """Latency percentile in milliseconds."""
        return percentile(sorted(self.latencies), pct) * 1000

    def p_of(self, pct: float, which: Callable[[int], bool]) -> float:
        """Latency percentile in milliseconds of the requests whose index ``which`` accepts
        (0.0 when there are none)."""
        chosen = sorted(t for t, i in zip(self.latencies, self.indexes, strict=True) if which(i))
        return percentile(chosen, pct) * 1000 if chosen else 0.0

    @classmethod
    def combined(cls, results: Sequence[LoadResult]) -> LoadResult:
        """Several measured runs as one: their requests over their measured time together,
        every latency, every status."""
        statuses: dict[int, int] = {}
        for result in results:
            for status, count in result.statuses.items():
                statuses[status] = statuses.get(status, 0) + count
        return cls(
            requests=sum(r.requests for r in results),
            errors=sum(r.errors for r in results),
            seconds=sum(r.seconds for r in results),
            latencies=[latency for r in results for latency in r.latencies],
            statuses=statuses,
            indexes=[index for r in results for index in r.indexes],
        )


def build_request(
    method: str, target: str, *, host: str, headers: Sequence[tuple[str, str]], body: bytes = b""
) -> bytes:
    """The bytes of one HTTP/1.1 request (keep-alive)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if body or method in {"POST", "PUT", "PATCH"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One answer on a keep-alive connection: its status and body (read by its
    ``Content-Length``)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    lowered = head.lower()
    position = lowered.find(b"\r\ncontent-length:")
    if position >= 0:
        end = lowered.index(b"\r\n", position + 2)
        length = int(lowered[position + 17 : end])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _connection(
    host: str,
    port: int,
    requests: Sequence[bytes],
    offset: int,
    until: float,
    measure_from: float,
    result: LoadResult,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    clock = time.perf_counter
    position = offset
    count = len(requests)
    try:
        while True:
            started = clock()
            if started >= until:
                break
            index = position % count
            writer.write(requests[index])
            position += 1
            status, _ = await read_response(reader)
            finished = clock()
            if started >= measure_from:
                result.requests += 1
                result.latencies.append(finished - started)
                result.indexes.append(index)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status >= 400:
                    result.errors += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def run_load(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    connections: int,
    seconds: float,
    warmup: float,
) -> LoadResult:
    """Drive the server with ``connections`` concurrent keep-alive connections for
    ``warmup + seconds``; only the last ``seconds`` are measured. Requests are taken in turn
    from ``requests`` (different connections start at different offsets)."""
    result = LoadResult()
    start = time.perf_counter()
    measure_from = start + warmup
    until = measure_from + seconds
    await asyncio.gather(
        *(
            _connection(host, port, requests, i * 7, until, measure_from, result)
            for i in range(connections)
        )
    )
    result.seconds = max(time.perf_counter() - measure_from, 1e-9)
    return result
