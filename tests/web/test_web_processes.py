"""Several web processes, each accepting on a socket of its own: the kernel spreads a burst
of connections over them, and the supervisor stops them together."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from joinedup.core.benchserver import free_port
from joinedup.web import processes

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "SO_REUSEPORT"), reason="SO_REUSEPORT balances connections on Linux"
)


def _accept_all(sock: socket.socket) -> list[socket.socket]:
    sock.setblocking(False)
    taken = []
    while True:
        try:
            taken.append(sock.accept()[0])
        except BlockingIOError:
            return taken


def test_a_burst_of_connections_is_spread_over_every_process_socket() -> None:
    """Forty connections opened at once, before anyone accepts: each socket of the group gets
    its share (with one shared socket, the first process to wake took them all)."""
    port = free_port()
    group = processes.bind_sockets("127.0.0.1", port, 2)
    clients = []
    try:
        assert [s.getsockname()[1] for s in group] == [port, port]
        clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]
        time.sleep(0.2)  # the handshakes complete in the kernel, into each socket's backlog
        taken = [_accept_all(sock) for sock in group]
        assert sum(len(t) for t in taken) == 40
        assert all(len(t) >= 5 for t in taken), [len(t) for t in taken]
        for accepted in taken:
            for connection in accepted:
                connection.close()
    finally:
        for client in clients:
            client.close()
        for sock in group:
            sock.close()


def test_a_port_in_use_is_refused_before_any_process_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            processes.bind_sockets("127.0.0.1", taken.getsockname()[1], 2)


_SUPERVISOR = textwrap.dedent(
    """
    import sys
    from joinedup.web import processes

    # stand-in processes: the first ends on its own with status 3 when asked to, the others
    # wait until they are stopped
    fail = sys.argv[2] == "fail"
    def command(fd, options, _n=[0]):
        _n[0] += 1
        code = "import sys; sys.exit(3)" if fail and _n[0] == 1 else "import time; time.sleep(60)"
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


def test_a_process_that_ends_stops_the_others_and_gives_its_status() -> None:
    supervisor = _supervisor("fail")
    assert supervisor.wait(timeout=30) == 3
    assert _children_of(supervisor.pid) == []


def test_sigterm_stops_every_process() -> None:
    supervisor = _supervisor("wait")
    try:
        deadline = time.monotonic() + 20
        while len(_children_of(supervisor.pid)) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        children = _children_of(supervisor.pid)
        assert len(children) == 3
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=30) == 0
        time.sleep(0.2)
        alive = subprocess.run(["ps", "-o", "pid=", "-p", ",".join(children)], capture_output=True)
        assert alive.stdout.split() == []
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
