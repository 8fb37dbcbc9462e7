"""Wake-ups between the processes that share a PostgreSQL database: ``LISTEN``/``NOTIFY``.

Every statement that inserts outbox rows notifies the channel :data:`OUTBOX_CHANNEL` (a
statement-level trigger on ``outbox_event``, migration 0020): PostgreSQL delivers the
notification when the transaction commits, once however many statements it ran, and never for
a transaction that rolled back. A process that relays (``joinedup worker``) listens with
:class:`CommitWatcher` — one connection of its own in a thread — and its relay wakes at once,
where before it found a web process's commits by polling (up to
:attr:`~joinedup.core.relay.Relay.poll_interval`, a fifth of a second, added to every
registration's way to its consumers). Nothing about the events travels: the woken relay reads
the outbox as before, and its poll stays, so a notification lost (the listening connection
broken and opened again) costs only the wait for the next poll.

The embedded deployment's counterpart, for processes sharing a SQLite file, is
:mod:`joinedup.core.wakeups`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import structlog
from sqlalchemy.engine import make_url

from joinedup.core.listeners import Listeners

log = structlog.get_logger(__name__)

#: The channel the outbox's trigger notifies (an identifier: no quoting needed).
OUTBOX_CHANNEL = "joinedup_outbox"
#: Seconds between the listening thread's looks at whether it should stop.
_STOP_CHECK_S = 0.5
#: Longest pause before the listening connection is opened again after it failed.
_MAX_RETRY_S = 30.0


#: libpq's TCP keepalives on the listening connection: one that dies silently (a firewall's
#: idle timeout, a fail-over) is noticed within about a minute, not the kernel's two hours,
#: and opened again.
_KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
               "keepalives_count": 3}  # fmt: skip


def connect_kwargs(url: str) -> dict[str, Any]:
    """``psycopg.connect``'s keyword arguments for a SQLAlchemy PostgreSQL ``url``, as the
    dialect makes them for the pool's connections (the URL's query decoded as it does)."""
    parsed = make_url(url)
    args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    if args:  # (the psycopg dialect passes everything by keyword)
        raise ValueError("a PostgreSQL URL the listening connection cannot use")
    return dict(kwargs)


class CommitWatcher:
    """Listens on :data:`OUTBOX_CHANNEL` in a thread, with a connection of its own (autocommit:
    a ``LISTEN`` takes effect at once), and calls the listeners added (:meth:`add`) — in
    that thread, so they must be quick and thread-safe — for each notification, and once
    after every (re)connection (what was committed while it was not listening). A
    connection that fails is opened again after a pause that doubles up to 30 s."""

    def __init__(self, url: str) -> None:
        self._connect = {**connect_kwargs(url), "connect_timeout": 10, **_KEEPALIVES}
        self._listeners: Listeners[str] = Listeners("outbox_commit_listener_failed")
        self._lock = threading.Lock()
        #: The running thread and the event that stops it (each thread its own)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: Notifications received (for the operator's eye and the tests)
        self.received = 0
        #: Whether the connection listens now
        self.listening = threading.Event()

    def add(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on each commit of outbox rows, starting the thread if it is not
        running; returns the function that removes it."""
        remove = self._listeners.add(OUTBOX_CHANNEL, listener)
        with self._lock:
            if self._thread is None:
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name="pg-outbox-listener", daemon=True
                )
                self._thread.start()
        return remove

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and wait for the thread (at most ``timeout`` seconds; one still
        connecting ends when its connection attempt does, calling nobody)."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None:
            thread.join(timeout=timeout)

    def _run(self, stop: threading.Event) -> None:
        delay = 1.0
        while not stop.is_set():
            try:
                with psycopg.connect(autocommit=True, **self._connect) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    if stop.is_set():
                        return
                    self.listening.set()
                    delay = 1.0
                    self._call()  # (what was committed while nobody listened)
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=_STOP_CHECK_S):
                            self.received += 1
                            if stop.is_set():
                                break
                            self._call()
            except Exception as exc:  # (any: the thread must not die and leave polling alone)
                log.warning("outbox_listener_failed", error=type(exc).__name__, retry_in=delay)
            finally:
                self.listening.clear()
            if stop.wait(delay):
                return
            delay = min(delay * 2, _MAX_RETRY_S)

    def _call(self) -> None:
        self._listeners.call((OUTBOX_CHANNEL,))


__all__ = ["OUTBOX_CHANNEL", "CommitWatcher", "connect_kwargs"]
