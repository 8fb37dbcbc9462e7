"""Random identifiers and salts for records written on hot paths.

:func:`uuid.uuid4` reads 16 bytes from the operating system per identifier, and CPython gives
up the interpreter lock around that system call: a mediated call makes three, each followed
by a wait to take the lock back from the busy event-loop thread. :func:`new_id` draws version 4
UUIDs from the same source (``os.urandom``, the operating system's cryptographic generator,
so identifiers stay unguessable) 256 at a time, per thread, so that the lock is given up once
per 256 identifiers. A forked child starts with no identifiers drawn (never its parent's).
"""

from __future__ import annotations

import os
import threading
import uuid

#: Identifiers drawn per read of the operating system's generator.
_BATCH = 256
_local = threading.local()


def _forget_after_fork() -> None:
    """A forked child must not hand out the identifiers its parent still holds."""
    global _local
    _local = threading.local()


os.register_at_fork(after_in_child=_forget_after_fork)


def _draw() -> bytes:
    """16 bytes from this thread's pool, refilled from ``os.urandom`` when empty."""
    pool: list[bytes] | None = getattr(_local, "pool", None)
    if not pool:
        raw = os.urandom(16 * _BATCH)
        pool = _local.pool = [raw[i : i + 16] for i in range(0, len(raw), 16)]
    return pool.pop()


def new_id() -> uuid.UUID:
    """A random (version 4) UUID, as :func:`uuid.uuid4` gives."""
    return uuid.UUID(bytes=_draw(), version=4)


def new_salt() -> bytes:
    """16 random bytes, as ``secrets.token_bytes(16)`` gives (a record's salt)."""
    return _draw()


__all__ = ["new_id", "new_salt"]
