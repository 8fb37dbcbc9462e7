"""The platform's web application in several processes, the connections dealt out by the
supervisor to the process with the fewest open.

``uvicorn --workers N`` shares one listening socket between its processes: whichever process
wakes first takes every connection waiting, so a burst of keep-alive connections (fifty
browsers, a load balancer's pool) lands mostly on one process, which then does all the work
while the others idle — for as long as the connections live. Measured with ``bench portal``'s
fifty connections: 41/9, 33/17, 46/4 and 50/0 between two processes in four runs. A socket
per process in one ``SO_REUSEPORT`` group (stop 20) spread them by a hash of their addresses:
25/25, 23/27, 30/20, 17/33 — the busier process's people waited up to twice as long.

Here the supervisor alone listens. It accepts each connection and passes it (``SCM_RIGHTS``
over a Unix socket pair, :class:`Dealer`) to the process with the fewest connections open,
the one that was dealt to longest ago among equals; a process tells the supervisor when a
connection closes (one byte on the same pair), and serves what it is handed with uvicorn's
own HTTP protocol (:class:`HandedServer`). Fifty connections are 25/25, and a process whose
connections close gets the next ones. With one process there is nothing to deal: it listens
itself. The supervisor forwards ``SIGTERM``/``SIGINT`` to the processes (it stops accepting;
each finishes its requests and writes what its recorders hold) and, when one ends, stops the
others and ends with its status: restarting belongs to the service manager.

``python -m joinedup.web.processes --host H --port P --processes N``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import errno
import itertools
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, cast

#: The application factory every process serves.
FACTORY = "joinedup.web.app:create_serving_app"
#: Seconds the processes have to end after SIGTERM before they are killed.
STOP_SECONDS = 60.0
#: What a process sends the supervisor for each connection of its that closed.
CLOSED = b"c"
#: What the dealer's selector knows the signals' wake-up socket by.
_WAKE = "wake"
#: Why an accept fails for now (the connection stays queued; not to be retried at once).
_SHORT_OF = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: What carries a connection to a process (its descriptor rides with this byte).
HANDED = b"h"


def bind_listener(host: str, port: int, *, backlog: int = 2048) -> socket.socket:
    """The listening socket on ``host:port`` (``OSError`` when the port is in use)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class Dealer:
    """Deals the connections ``listener`` accepts to the processes at the other ends of
    ``channels``: each to the process with the fewest open (the one dealt to longest ago
    among equals), counting the closings each process reports.

    A process takes a few hundred connections into its channel before it has read them; when
    no process will take one more (all starting, or all stalled), the connection waits here
    and the dealer stops accepting — the kernel's backlog holds the rest — until a channel
    can take it again. A process is dealt nothing once its channel has closed."""

    def __init__(self, listener: socket.socket, channels: Sequence[socket.socket]) -> None:
        self.listener = listener
        self.channels = list(channels)
        self.open = [0] * len(self.channels)
        self.gone = [False] * len(self.channels)
        #: Accepted connections no process has taken yet, oldest first.
        self.waiting: collections.deque[socket.socket] = collections.deque()
        self.accepting = True
        self.stopped = False
        self._full: set[int] = set()  # the channels the last deal found full
        self._last = [0] * len(self.channels)  # when each was last dealt to (a count)
        self._turn = itertools.count(1)
        listener.setblocking(False)
        for channel in self.channels:
            channel.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ, None)
        for number, channel in enumerate(self.channels):
            self.selector.register(channel, selectors.EVENT_READ, number)

    def run_once(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for connections, closings and room in a channel,
        and deal with them."""
        for key, events in self.selector.select(timeout):
            if key.data is None:
                self._accept()
            elif key.data is _WAKE:  # a signal: the caller looks at what it asked for
                with contextlib.suppress(OSError):
                    key.fileobj.recv(4096)  # type: ignore[union-attr]
                return
            elif events & selectors.EVENT_READ:
                self._closings(key.data)
        if self.waiting:
            self._deal_waiting()

    def wake_on(self, sock: socket.socket) -> None:
        """Return from :meth:`run_once` at once when ``sock`` has something to read (the
        wake-up socket a signal writes to: ``signal.set_wakeup_fd``)."""
        self.selector.register(sock, selectors.EVENT_READ, _WAKE)

    def stop_accepting(self) -> None:
        """Accept no more connections (and close those no process took). Called by the
        loop, never by a signal handler (it would change the dealer's state mid-deal)."""
        if self.accepting:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(self.listener)
        self.accepting = False
        self.stopped = True
        self.listener.close()
        while self.waiting:
            self.waiting.popleft().close()

    def close(self) -> None:
        self.stop_accepting()
        self.selector.close()
        for channel in self.channels:
            channel.close()

    def _accept(self) -> None:
        for _ in range(256):  # then the closings get their turn
            try:
                connection, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # closed meanwhile (stopping), or out of descriptors
                if exc.errno in _SHORT_OF:  # for now: the waiting connection stays queued
                    time.sleep(0.05)
                return
            if connection.family in (socket.AF_INET, socket.AF_INET6):
                with contextlib.suppress(OSError):  # (reset by the client already)
                    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.waiting or not self._deal(connection):
                self.waiting.append(connection)
                self._wait_for_room()
                return

    def _deal_waiting(self) -> None:
        while self.waiting and self._deal(self.waiting[0]):
            self.waiting.popleft()
        if self.waiting:
            self._wait_for_room()
        elif not self.accepting and not self.stopped:
            self._resume()

    def _wait_for_room(self) -> None:
        """Stop accepting until a channel can take the waiting connections: a full channel
        is watched for room; one that failed otherwise (short of memory or buffers) is tried
        again at the next turn of the loop (watched for room, it would wake the loop at once,
        again and again)."""
        if self.accepting:
            self.selector.unregister(self.listener)
            self.accepting = False
        for number, channel in enumerate(self.channels):
            if not self.gone[number]:
                events = selectors.EVENT_READ
                if number in self._full:
                    events |= selectors.EVENT_WRITE
                self.selector.modify(channel, events, number)

    def _resume(self) -> None:
        for number, channel in enumerate(self.channels):
            if not self.gone[number]:
                self.selector.modify(channel, selectors.EVENT_READ, number)
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.accepting = True

    def _deal(self, connection: socket.socket) -> bool:
        """Hand ``connection`` to the least busy process that takes it, and close it here
        (the process holds its own copy); whether one took it."""
        order = sorted(
            (n for n in range(len(self.channels)) if not self.gone[n]),
            key=lambda n: (self.open[n], self._last[n]),
        )
        self._full.clear()
        for number in order:
            try:
                socket.send_fds(self.channels[number], [HANDED], [connection.fileno()])
            except (BlockingIOError, InterruptedError):  # its channel is full: the next one
                self._full.add(number)
                continue
            except (BrokenPipeError, ConnectionResetError):  # it has ended
                self._gone(number)
                continue
            except OSError:  # short of memory or buffers for now: the next one
                continue
            self.open[number] += 1
            self._last[number] = next(self._turn)
            connection.close()
            return True
        if all(self.gone):  # nobody left to serve it
            connection.close()
            return True
        return False

    def _gone(self, number: int) -> None:
        self.gone[number] = True
        self.open[number] = 0
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(self.channels[number])

    def _closings(self, number: int) -> None:
        try:
            data = self.channels[number].recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the process has ended
            self._gone(number)
            return
        self.open[number] = max(0, self.open[number] - data.count(CLOSED))


def _child_command(fd: int, options: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "joinedup.web.processes", "--child-fd", str(fd), *options]


def _start(sock: socket.socket, options: Sequence[str]) -> subprocess.Popen[bytes]:
    """A process of the application, given its copy of ``sock``."""
    fd = sock.fileno()
    return subprocess.Popen(_child_command(fd, options), pass_fds=(fd,))  # noqa: S603 (our interpreter and module)


def serve(
    host: str,
    port: int,
    processes: int,
    *,
    log_level: str = "warning",
    factory: str = FACTORY,
) -> int:
    """Serve the application (``factory``) in ``processes`` processes until a signal or one
    of them ends; returns the status to exit with."""
    if processes < 1:
        raise ValueError("processes must be at least 1")
    listener = bind_listener(host, port)
    options = ["--log-level", log_level, "--factory", factory]
    children: list[subprocess.Popen[bytes]] = []
    dealer: Dealer | None = None
    stopping = False

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True  # the loop stops dealing at once (woken by the signal's byte)
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    # before any process starts: a signal while they start stops those started, not the
    # supervisor alone (which would leave them running)
    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    # a signal's byte wakes the dealer's wait at once (the handler only sets ``stopping``)
    wake, woken = socket.socketpair()
    for end in (wake, woken):
        end.setblocking(False)
    previous_wakeup = signal.set_wakeup_fd(woken.fileno())
    try:
        if processes == 1:  # nothing to deal: the process listens itself
            with listener:  # (its copy only: stopping, it refuses new connections at once)
                children.append(_start(listener, ["--listening", *options]))
        else:
            ours = []
            for _ in range(processes):
                if stopping:
                    break
                mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                ours.append(mine)
                with theirs:  # the process holds its own copy
                    children.append(_start(theirs, options))
            dealer = Dealer(listener, ours)
            dealer.wake_on(wake)
        status = 0
        while children and all(child.poll() is None for child in children) and not stopping:
            if dealer is not None:
                dealer.run_once(0.2)
            else:
                time.sleep(0.2)
        if dealer is not None:
            dealer.stop_accepting()
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
        signal.set_wakeup_fd(previous_wakeup)
        wake.close()
        woken.close()
        if dealer is not None:
            dealer.close()
        listener.close()
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _handed_server_class() -> type[Any]:
    import uvicorn

    class HandedServer(uvicorn.Server):
        """uvicorn serving the connections the supervisor hands over ``channel`` (it listens
        on nothing itself), with uvicorn's own HTTP protocol; each closing is reported back."""

        def __init__(self, config: uvicorn.Config, channel: socket.socket) -> None:
            super().__init__(config)
            self.channel = channel
            self.connecting: set[asyncio.Task[None]] = set()
            #: Closings not yet told (the channel was full): told when it has room, so the
            #: supervisor's count of this process's connections never drifts.
            self.untold = 0
            self.watching = False  # the loop watches the channel for room

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=[])
            if not self.started:
                return
            self.channel.setblocking(False)
            loop = asyncio.get_running_loop()
            loop.add_reader(self.channel.fileno(), self._receive, loop)

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            with contextlib.suppress(ValueError, OSError):
                loop = asyncio.get_running_loop()
                loop.remove_reader(self.channel.fileno())
                loop.remove_writer(self.channel.fileno())
                self.watching = False
            await super().shutdown(sockets)

        def _receive(self, loop: asyncio.AbstractEventLoop) -> None:
            try:
                data, fds, _, _ = socket.recv_fds(self.channel, 256, 256)
            except (BlockingIOError, InterruptedError):
                return
            if not data:  # the supervisor has gone: nothing more will come
                loop.remove_reader(self.channel.fileno())
                self.should_exit = True
                return
            for _ in range(data.count(HANDED) - len(fds)):  # lost on the way (truncated)
                self._closed()
            for fd in fds:
                task = loop.create_task(self._connect(loop, socket.socket(fileno=fd)))
                self.connecting.add(task)  # (a task nobody holds may be collected)
                task.add_done_callback(self.connecting.discard)

        async def _connect(
            self, loop: asyncio.AbstractEventLoop, connection: socket.socket
        ) -> None:
            reported = False

            def closed() -> None:  # reported once, however the connection ends
                nonlocal reported
                if not reported:
                    reported = True
                    self._closed()

            try:
                await loop.connect_accepted_socket(self._protocol_for(closed), connection)
            except (Exception, asyncio.CancelledError) as exc:  # gone before it was served,
                connection.close()  # refused by the loop, or cancelled by the shutdown
                closed()
                if isinstance(exc, asyncio.CancelledError):
                    raise

        def _protocol_for(self, closed: Callable[[], None]) -> Callable[[], asyncio.Protocol]:
            """uvicorn's HTTP protocol for one handed connection, reporting its end."""
            config = self.config

            def make() -> asyncio.Protocol:
                protocol: Any = config.http_protocol_class(  # type: ignore[call-arg]
                    config=config, server_state=self.server_state, app_state=self.lifespan.state
                )
                lost = protocol.connection_lost

                def connection_lost(exc: Exception | None) -> None:
                    try:
                        lost(exc)
                    finally:
                        closed()

                protocol.connection_lost = connection_lost
                return cast(asyncio.Protocol, protocol)

            return make

        def _closed(self) -> None:
            self.untold += 1
            if not self.watching:  # (else the loop tells when the channel has room)
                self._tell()

        def _tell(self) -> None:
            """Tell the supervisor of every closing not yet told; what the channel has no
            room for is told when it has (the loop watches it for room meanwhile). Always
            on the loop's thread: closings are reported by its callbacks."""
            try:
                sent = self.channel.send(CLOSED * self.untold)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:  # the supervisor has gone: nobody to tell
                sent = self.untold
            self.untold -= sent
            wanted = bool(self.untold)
            if wanted != self.watching:
                loop = asyncio.get_running_loop()
                if wanted:
                    loop.add_writer(self.channel.fileno(), self._tell)
                else:
                    loop.remove_writer(self.channel.fileno())
                self.watching = wanted  # (only once the loop does as said)

    return HandedServer


def _serve_child(fd: int, log_level: str, factory: str, *, listening: bool) -> None:
    """One process: the application ``factory`` on the connections handed over the Unix
    socket ``fd`` (or, ``listening``, accepted on the inherited listening socket ``fd``)."""
    import uvicorn

    from joinedup.core.scheduling import apply_cpu_scheduling
    from joinedup.core.settings import get_settings

    apply_cpu_scheduling(get_settings().cpu_scheduling)  # before uvicorn starts any thread
    sock = socket.socket(fileno=fd)
    config = uvicorn.Config(
        factory,
        factory=True,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=log_level,
        # the application has no WebSocket routes; and an upgraded connection would end in
        # another protocol than the one that reports its closing to the supervisor
        ws="none",
    )
    if listening:
        uvicorn.Server(config).run(sockets=[sock])
    else:
        _handed_server_class()(config, sock).run()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m joinedup.web.processes", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--factory", default=FACTORY, help=argparse.SUPPRESS)
    parser.add_argument("--child-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--listening", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    if arguments.child_fd is not None:
        _serve_child(
            arguments.child_fd,
            arguments.log_level,
            arguments.factory,
            listening=arguments.listening,
        )
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        return serve(
            arguments.host,
            arguments.port,
            arguments.processes,
            log_level=arguments.log_level,
            factory=arguments.factory,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
