"""Several web processes behind one listening socket: the supervisor deals each connection to
the process with the fewest open (a burst of fifty is 25/25, closings are counted), every
process serves what it is handed, and the supervisor stops them together."""

from __future__ import annotations

import errno
import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from joinedup.core.benchserver import free_port
from joinedup.web import processes


def _received(channel: socket.socket, opened: list[socket.socket]) -> list[socket.socket]:
    """The connections handed over ``channel`` so far (kept in ``opened`` to be closed)."""
    channel.setblocking(False)
    taken: list[socket.socket] = []
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(channel, 256, 256)
        except BlockingIOError:
            return taken
        assert data == processes.HANDED * len(fds)
        handed = [socket.socket(fileno=fd) for fd in fds]
        opened.extend(handed)
        taken.extend(handed)


def _deal_all(dealer: processes.Dealer, count: int) -> None:
    deadline = time.monotonic() + 10
    while sum(dealer.open) < count and time.monotonic() < deadline:
        dealer.run_once(0.05)


#: Every socket a test made or was handed, closed after it.
Opened = list[socket.socket]


@pytest.fixture
def opened() -> Iterator[Opened]:
    made: Opened = []
    yield made
    for sock in made:
        sock.close()


Dealt = tuple[processes.Dealer, list[socket.socket], int]


@pytest.fixture
def dealt(opened: Opened) -> Iterator[Dealt]:
    listener = processes.bind_listener("127.0.0.1", 0)
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    opened.extend(theirs for _, theirs in pairs)
    dealer = processes.Dealer(listener, [ours for ours, _ in pairs])
    yield dealer, [theirs for _, theirs in pairs], listener.getsockname()[1]
    dealer.close()


def _connect(port: int, count: int, opened: Opened) -> list[socket.socket]:
    made = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    opened.extend(made)
    return made


def test_a_burst_of_connections_is_dealt_evenly(dealt: Dealt, opened: Opened) -> None:
    """Fifty connections at once: 25 each (a hash of their addresses gave 17/33)."""
    dealer, children, port = dealt
    clients = _connect(port, 50, opened)
    _deal_all(dealer, 50)
    taken = [_received(child, opened) for child in children]
    assert [len(t) for t in taken] == [25, 25]
    assert dealer.open == [25, 25]
    # what a process is handed is a client's connection itself
    taken[1][0].sendall(b"hello")
    readable, _, _ = select.select(clients, [], [], 5)
    assert [c.recv(5) for c in readable] == [b"hello"]


def test_the_next_connections_go_to_the_process_whose_connections_closed(
    dealt: Dealt, opened: Opened
) -> None:
    dealer, children, port = dealt
    _connect(port, 20, opened)
    _deal_all(dealer, 20)
    first = [_received(child, opened) for child in children]
    for connection in first[0][:8]:
        connection.close()
    children[0].sendall(processes.CLOSED * 8)  # what the process reports
    deadline = time.monotonic() + 5
    while dealer.open != [2, 10] and time.monotonic() < deadline:
        dealer.run_once(0.05)
    assert dealer.open == [2, 10]
    _connect(port, 10, opened)
    _deal_all(dealer, 22)
    assert [len(_received(child, opened)) for child in children] == [9, 1]
    assert dealer.open == [11, 11]


def test_a_process_that_has_gone_is_dealt_nothing(dealt: Dealt, opened: Opened) -> None:
    dealer, children, port = dealt
    children[1].close()
    _connect(port, 6, opened)
    _deal_all(dealer, 6)
    assert dealer.gone == [False, True]
    assert len(_received(children[0], opened)) == 6


def test_connections_no_process_can_take_yet_wait_for_room(opened: Opened) -> None:
    """Processes that read nothing yet (starting): once their channels are full, connections
    wait at the dealer, which stops accepting (the backlog holds the rest), and every one is
    dealt when the processes read — none is closed unanswered."""
    listener = processes.bind_listener("127.0.0.1", 0)
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    for ours, theirs in pairs:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)  # room for a few only
        opened.append(theirs)
    dealer = processes.Dealer(listener, [ours for ours, _ in pairs])
    try:
        clients = _connect(listener.getsockname()[1], 120, opened)
        for _ in range(20):
            dealer.run_once(0.01)
        assert sum(dealer.open) < 120
        assert not dealer.accepting
        assert dealer.waiting
        received = 0
        deadline = time.monotonic() + 20
        while received < 120 and time.monotonic() < deadline:
            received += sum(len(_received(theirs, opened)) for _, theirs in pairs)
            dealer.run_once(0.01)
        assert received == 120
        assert sum(dealer.open) == 120
        assert dealer.accepting
        assert not dealer.waiting
        readable, _, _ = select.select(clients, [], [], 0.2)
        assert readable == []  # no client was closed on (it would read its end)
    finally:
        dealer.close()


def test_a_channel_short_of_buffers_is_tried_again_later_not_at_once(
    dealt: Dealt, opened: Opened, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A send that fails for want of kernel buffers (not a full channel): the connection
    waits and is tried again at the next turn of the loop — the channels, which have room,
    are not watched for room (that woke the loop at once, again and again: 100 % CPU)."""
    dealer, children, port = dealt

    def short(*_: object) -> int:
        raise OSError(errno.ENOBUFS, "No buffer space available")

    monkeypatch.setattr(processes.socket, "send_fds", short)
    _connect(port, 1, opened)
    turns, started = 0, time.monotonic()
    while time.monotonic() - started < 0.5:
        dealer.run_once(0.1)
        turns += 1
    assert dealer.waiting
    assert not dealer.accepting
    assert turns <= 8  # one a tenth of a second, not thousands
    assert dealer.gone == [False, False]
    monkeypatch.undo()
    dealer.run_once(0.1)
    assert not dealer.waiting
    assert dealer.accepting
    assert sum(len(_received(child, opened)) for child in children) == 1


def test_a_port_in_use_is_refused_before_any_process_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            processes.bind_listener("127.0.0.1", taken.getsockname()[1])


_WHO_SERVES = textwrap.dedent(
    """
    import os

    def make():
        async def app(scope, receive, send):
            if scope["type"] != "http":
                return
            # which process serves, and under which scheduling policy (its event loop's)
            policy = os.sched_getscheduler(0) if hasattr(os, "sched_getscheduler") else -1
            body = f"{os.getpid()} {policy}".encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"text/plain"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        return app
    """
)


def _ask(sock: socket.socket) -> str:
    """The body of a GET / on the keep-alive connection ``sock``."""
    sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.split(b"\r\n\r\n", 1)[1]:
        chunk = sock.recv(4096)
        assert chunk, "the connection closed"
        data += chunk
    return data.split(b"\r\n\r\n", 1)[1].decode()


def test_every_process_serves_its_share_of_keep_alive_connections(tmp_path: Path) -> None:
    """Two real processes (uvicorn's HTTP protocol on handed connections): twenty keep-alive
    connections, about ten served by each (exactly ten once the closings before them have
    reached the supervisor: the dealer's own tests count exactly); closed, the next twenty are
    shared the same way."""
    (tmp_path / "who_serves.py").write_text(_WHO_SERVES)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "joinedup.web.processes", "--port", str(port),
         "--processes", "2", "--factory", "who_serves:make"],
        env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as probe:
                    _ask(probe)
                break
            except OSError:
                assert time.monotonic() < deadline, "the processes did not start"
                time.sleep(0.2)
        for _ in range(2):
            time.sleep(1.0)  # the closings before reach the supervisor (within milliseconds)
            connections = [
                socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)
            ]
            served = Counter(_ask(c) for c in connections for _ in range(3))
            assert len(served) == 2, served
            assert min(served.values()) >= 24, served  # 8 connections of 20 at least
            if hasattr(os, "SCHED_BATCH"):  # (setting cpu_scheduling, by default)
                assert {who.split()[1] for who in served} == {str(os.SCHED_BATCH)}
            for connection in connections:
                connection.close()
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


_SUPERVISOR = textwrap.dedent(
    """
    import sys
    from joinedup.web import processes

    # stand-in processes: the first ends on its own with status 3 when asked to, the others
    # wait until they are stopped
    fail = sys.argv[2] == "fail-later"
    def command(fd, options, _n=[0]):
        _n[0] += 1
        if fail and _n[0] == 1:  # after the others have started
            code = "import sys, time; time.sleep(5); sys.exit(3)"
        else:
            code = "import time; time.sleep(60)"
        return [sys.executable, "-c", code]
    processes._child_command = command
    sys.exit(processes.serve("127.0.0.1", int(sys.argv[1]), 3))
    """
)


def _supervisor(mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", _SUPERVISOR, str(free_port()), mode])


def _children_of(pid: int) -> list[str]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return found.stdout.split()


def _three_children(supervisor: subprocess.Popen[bytes]) -> list[str]:
    """The supervisor's three processes, once it has started them all."""
    deadline = time.monotonic() + 20
    while len(_children_of(supervisor.pid)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    children = _children_of(supervisor.pid)
    assert len(children) == 3
    return children


def _alive(pids: list[str]) -> list[str]:
    found = subprocess.run(["ps", "-o", "pid=", "-p", ",".join(pids)], capture_output=True)
    return found.stdout.decode().split()


def test_a_process_that_ends_stops_the_others_and_gives_its_status() -> None:
    supervisor = _supervisor("fail-later")
    try:
        children = _three_children(supervisor)  # while the supervisor lives to be their parent
        assert supervisor.wait(timeout=30) == 3
        time.sleep(0.2)
        assert _alive(children) == []
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def test_sigterm_stops_every_process() -> None:
    supervisor = _supervisor("wait")
    try:
        children = _three_children(supervisor)
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        time.sleep(0.2)
        assert _alive(children) == []
    finally:
        if supervisor.poll() is None:
            supervisor.kill()


def test_closings_the_channel_has_no_room_for_are_told_later() -> None:
    """A process whose channel to the supervisor is full (the supervisor busy dealing) tells
    of the connections that closed meanwhile when there is room — not one is lost, or the
    supervisor would count the process busier than it is for as long as it runs."""
    import asyncio

    import uvicorn

    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    mine.setblocking(False)
    filler = 0
    while True:  # the supervisor has not read for a while
        try:
            filler += mine.send(b"x" * 65536)
        except BlockingIOError:
            break
    server = processes._handed_server_class()(uvicorn.Config(app=lambda *a: None), mine)

    async def close_three_then_read() -> bytes:
        for _ in range(3):
            server._closed()
        assert server.untold == 3  # nothing could be sent
        received = bytearray()
        theirs.setblocking(False)
        deadline = time.monotonic() + 5
        while received.count(processes.CLOSED) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # the loop sends when there is room
            try:
                received += theirs.recv(1 << 20)
            except BlockingIOError:
                continue
        return bytes(received)

    try:
        received = asyncio.run(close_three_then_read())
    finally:
        mine.close()
        theirs.close()
    assert received.count(processes.CLOSED) == 3
    assert len(received) == filler + 3  # after everything sent before, in order
    assert server.untold == 0
