"""The platform's web application in several processes, each accepting on a listening socket
of its own.

``uvicorn --workers N`` shares one listening socket between its processes: whichever process
wakes first takes every connection waiting, so a burst of keep-alive connections (fifty
browsers, a load balancer's pool) lands mostly on one process, which then does all the work
while the others idle — for as long as the connections live. Measured with ``bench portal``'s
fifty connections: 41/9, 33/17, 46/4 and 50/0 between two processes in four runs, and half
the throughput in the last.

Here each process has a socket of its own in one ``SO_REUSEPORT`` group, bound before any
process starts, and the kernel spreads new connections over the group by their addresses.
Where the option does not exist, the processes share one socket as uvicorn's do. The
supervisor forwards ``SIGTERM``/``SIGINT`` to the processes (each finishes its requests and
writes what its recorders hold) and, when one ends, stops the others and ends with its
status: restarting belongs to the service manager.

``python -m joinedup.web.processes --host H --port P --processes N``.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

#: The application factory every process serves.
FACTORY = "joinedup.web.app:create_serving_app"
#: Seconds the processes have to end after SIGTERM before they are killed.
STOP_SECONDS = 60.0


def bind_sockets(host: str, port: int, count: int, *, backlog: int = 2048) -> list[socket.socket]:
    """``count`` listening sockets on ``host:port`` in one ``SO_REUSEPORT`` group (the kernel
    balances connections between them), or one socket where the option does not exist."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    reuse_port = getattr(socket, "SO_REUSEPORT", None)
    sockets: list[socket.socket] = []
    for _ in range(count if reuse_port is not None else 1):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port is not None:
                sock.setsockopt(socket.SOL_SOCKET, reuse_port, 1)
            sock.bind((host, port))
            sock.listen(backlog)
            sock.set_inheritable(True)
        except OSError:
            sock.close()
            for bound in sockets:
                bound.close()
            raise
        sockets.append(sock)
    return sockets


def _child_command(fd: int, options: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "joinedup.web.processes", "--child-fd", str(fd), *options]


def serve(host: str, port: int, processes: int, *, log_level: str = "warning") -> int:
    """Serve the application in ``processes`` processes until a signal or one of them ends;
    returns the status to exit with."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    sockets = bind_sockets(host, port, processes)
    options = ["--log-level", log_level]
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    # before any process starts: a signal while they start stops those started, not the
    # supervisor alone (which would leave them running)
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            for number in range(processes):
                if stopping:
                    break
                fd = sockets[number % len(sockets)].fileno()
                children.append(subprocess.Popen(_child_command(fd, options), pass_fds=(fd,)))  # noqa: S603 (our interpreter and module)
        finally:
            for sock in sockets:  # the processes hold their own copies
                sock.close()
        status = 0
        while children and all(child.poll() is None for child in children):
            time.sleep(0.2)
        ended = next((child for child in children if child.returncode is not None), None)
        if not stopping and ended is not None:  # one ended on its own: the others stop too
            status = ended.returncode or 1
            stop(signal.SIGTERM, None)
        deadline = time.monotonic() + STOP_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return status
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _serve_child(fd: int, log_level: str) -> None:
    """One process: the application on the inherited listening socket ``fd``."""
    import uvicorn

    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(
        FACTORY,
        factory=True,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=log_level,
    )
    uvicorn.Server(config).run(sockets=[sock])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m joinedup.web.processes", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--child-fd", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child_fd is not None:
        _serve_child(arguments.child_fd, arguments.log_level)
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        return serve(
            arguments.host, arguments.port, arguments.processes, log_level=arguments.log_level
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
