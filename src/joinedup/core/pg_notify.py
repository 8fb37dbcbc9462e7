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


def conninfo_of(url: str) -> str:
    """The libpq connection string of a SQLAlchemy PostgreSQL ``url`` (its driver name
    dropped; the password kept: the listening connection logs in as the pool's do)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class CommitWatcher:
    """Listens on :data:`OUTBOX_CHANNEL` in a thread, with a connection of its own (autocommit:
    a ``LISTEN`` takes effect at once), and calls the listeners added (:meth:`add`) — in
    that thread, so they must be quick and thread-safe — for each notification, and once
    after every (re)connection (what was committed while it was not listening). A
    connection that fails is opened again after a pause that doubles up to 30 s."""

    def __init__(self, url: str) -> None:
        self._conninfo = conninfo_of(url)
        self._listeners: Listeners[str] = Listeners("outbox_commit_listener_failed")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
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
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._run, name="pg-outbox-listener", daemon=True
                )
                self._thread.start()
        return remove

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening and wait for the thread (at most ``timeout`` seconds)."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stop.set()
        if thread is not None:
            thread.join(timeout=timeout)

    def _run(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=10) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    self.listening.set()
                    delay = 1.0
                    self._call()  # (what was committed while nobody listened)
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=_STOP_CHECK_S):
                            self.received += 1
                            self._call()
                            if self._stop.is_set():
                                break
            except psycopg.Error as exc:
                log.warning("outbox_listener_failed", error=type(exc).__name__, retry_in=delay)
            finally:
                self.listening.clear()
            if self._stop.wait(delay):
                return
            delay = min(delay * 2, _MAX_RETRY_S)

    def _call(self) -> None:
        self._listeners.call((OUTBOX_CHANNEL,))


__all__ = ["OUTBOX_CHANNEL", "CommitWatcher", "conninfo_of"]
