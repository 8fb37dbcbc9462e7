"""Wake-ups between the processes that share one SQLite file: the embedded deployment's
stand-in for PostgreSQL's ``LISTEN``/``NOTIFY``.

The in-process bus's consumers and the outbox relay wait between reads of the database. In
one process a commit or a publication wakes them at once; the web process and the worker
processes beside it found each other's work only by polling (up to a fifth of a second for
the relay, half a second for a consumer: most of an event's latency on a platform that
keeps up). Here each process binds a Unix datagram socket in a directory named after the
database file, and a signal is one byte (its topic) sent to every other process's socket:
no server, nothing to configure, and a signal lost (a peer gone, its buffer full) costs only
the wait for the next poll, which stays as it was. Nothing about the events travels: a
woken process reads the database as before.

An end is removed when it is closed, collected or its interpreter exits; the sockets of
processes that died otherwise (``SIGKILL``) are removed by the first signal that finds
nobody there.
Where Unix sockets are missing (Windows) the channel is absent and polling alone remains.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import secrets
import socket
import stat
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from joinedup.core.listeners import Listeners

#: Events were committed to the outbox (the relay has work).
OUTBOX = b"o"
#: The relay published events (consumers have work).
PUBLISHED = b"p"

_SUFFIX = ".sock"


def directory_for(database_file: str) -> Path:
    """Where the sockets of the processes sharing ``database_file`` live: a private directory
    named after the file's real path (a socket's path is limited to about 100 bytes, so not
    beside the file)."""
    digest = hashlib.sha256(os.path.realpath(database_file).encode()).hexdigest()[:24]
    return Path(tempfile.gettempdir()) / f"joinedup-wakeups-{digest}"


def _check_private(directory: Path) -> None:
    """Refuse a directory another user made or may write in (in a shared temporary directory,
    where its name can be guessed): no socket is bound there (polling alone remains)."""
    found = directory.lstat()
    if (
        not stat.S_ISDIR(found.st_mode)
        or found.st_uid != os.getuid()
        or found.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ):
        raise PermissionError(f"{directory} is not a private directory of this user")


def _remove(path: Path, directory: Path) -> None:
    """A closed end's socket file, and the directory if it was the last one out."""
    with contextlib.suppress(OSError):
        path.unlink()
    with contextlib.suppress(OSError):  # (not empty: others stay)
        directory.rmdir()


class LocalWakeups:
    """This process's end of the channel: :meth:`signal` tells the other processes,
    :meth:`listen` is told by them. Open it in the event loop that should run the listeners."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._socket: socket.socket | None = None
        self._path: Path | None = None
        self._listeners: Listeners[bytes] = Listeners("wakeup_listener_failed")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None

    @classmethod
    def for_database(cls, database_file: str | None) -> LocalWakeups | None:
        """The channel of a SQLite file (None: no file, or no Unix sockets here)."""
        if database_file is None or not hasattr(socket, "AF_UNIX"):
            return None
        return cls(directory_for(database_file))

    @property
    def path(self) -> Path | None:
        return self._path

    def open(self) -> None:
        """Bind this process's socket and read it in the running event loop."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}{_SUFFIX}"
        try:
            sock.setblocking(False)
            for attempt in range(3):  # (the last process leaving removes the directory)
                self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                _check_private(self.directory)
                try:
                    sock.bind(str(path))
                    break
                except FileNotFoundError:
                    if attempt == 2:
                        raise
        except BaseException:
            sock.close()
            raise
        self._socket, self._path = sock, path
        # (never closed: removed when this end is collected or the interpreter exits)
        self._finalizer = weakref.finalize(self, _remove, path, self.directory)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._received)

    def close(self) -> None:
        sock, loop = self._socket, self._loop
        self._socket = self._path = self._loop = None
        if sock is None:
            return
        if loop is not None and not loop.is_closed():
            loop.remove_reader(sock.fileno())
        sock.close()
        if self._finalizer is not None:
            self._finalizer()  # (once: the path and, the last one out, the directory)

    def listen(self, topic: bytes, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` (in the event loop) when another process signals ``topic``;
        returns the function that removes it."""
        return self._listeners.add(topic, listener)

    def signal(self, topic: bytes) -> None:
        """Tell every other process sharing the database (from any thread; never raises)."""
        sock, own = self._socket, self._path
        if sock is None:
            return
        try:
            peers = [p for p in self.directory.iterdir() if p.name.endswith(_SUFFIX)]
        except OSError:
            return
        for peer in peers:
            if peer == own:
                continue
            try:
                sock.sendto(topic, str(peer))
            except OSError as error:  # a full buffer (wake-ups waiting there) is left alone
                if isinstance(error, ConnectionRefusedError | FileNotFoundError):
                    with contextlib.suppress(OSError):  # its process is gone
                        peer.unlink()

    def _received(self) -> None:
        sock = self._socket
        if sock is None:
            return
        topics: set[bytes] = set()
        while True:
            try:
                topics.add(sock.recv(16))
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return
        self._listeners.call(topics)


__all__ = ["OUTBOX", "PUBLISHED", "LocalWakeups", "directory_for"]
