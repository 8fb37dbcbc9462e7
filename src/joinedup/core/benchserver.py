"""The platform as the benchmarks run it: a real server process on loopback, on its own data
directory and database, driven by :mod:`joinedup.core.loadgen`, and stopped gracefully (so what
its recorders have queued is written before the figures are read)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from joinedup.core.loadgen import LoadResult, run_load

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nobody listens on (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def platform_environment(directory: Path, url: str, *, port: int | None = None) -> dict[str, str]:
    """The server's environment: this process's, with its own data directory and database,
    quiet logs, and (given the port) the public address it is reached at."""
    env = dict(os.environ)
    env.update(
        {
            "JOINEDUP_ENVIRONMENT": "development",
            "JOINEDUP_DATA_DIR": str(directory),
            "JOINEDUP_DATABASE_URL": url,
            "JOINEDUP_LOG_LEVEL": "WARNING",
            "JOINEDUP_LOG_FORMAT": "json",
        }
    )
    if port is not None:
        env["JOINEDUP_PUBLIC_URL"] = f"http://{HOST}:{port}"
    return env


def uvicorn_command(port: int, processes: int) -> list[str]:
    """The platform under uvicorn as production would run it: several processes, uvloop and
    httptools, no access log — the supervisor dealing each connection to the process with the
    fewest open (:mod:`joinedup.web.processes`: with uvicorn's one shared socket, a burst of
    keep-alive connections landed mostly on one process, and a run measured the luck of that
    split)."""
    return [
        sys.executable, "-m", "joinedup.web.processes",
        "--host", HOST, "--port", str(port), "--processes", str(processes),
        "--log-level", "warning",
    ]  # fmt: skip


def start_platform(
    command: Sequence[str],
    env: dict[str, str],
    port: int,
    *,
    timeout: float = 90.0,
    quiet: bool = False,
) -> subprocess.Popen[bytes]:
    """Start the server and wait until ``/readyz`` answers 200; a server that exits or is not
    ready in ``timeout`` seconds is a :class:`RuntimeError`."""
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        list(command),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the platform server exited with status {server.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=2).status_code == 200:
                return server
        time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the platform server did not become ready within {timeout:.0f} s")


def stop_platform(server: subprocess.Popen[bytes]) -> None:
    """Stop gracefully (SIGTERM: the recorders write what is queued), killing after 60 s."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def drive(
    port: int, requests: list[bytes], *, connections: int, seconds: float, warmup: float
) -> LoadResult:
    """Send ``requests`` round-robin over ``connections`` keep-alive connections for
    ``seconds`` after ``warmup`` seconds, on uvloop when it is installed."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner = asyncio.run
    return runner(  # type: ignore[no-any-return]
        run_load(HOST, port, requests, connections=connections, seconds=seconds, warmup=warmup)
    )
