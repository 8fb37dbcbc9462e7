"""Random identifiers and salts for records written on hot paths.

:func:`uuid.uuid4` reads 16 bytes from the operating system per identifier, and CPython gives
up the interpreter lock around that system call: a mediated call makes three, each followed
by a wait to take the lock back from the busy event-loop thread. :func:`new_id` draws version 4
UUIDs from the same source (``os.urandom``, the operating system's cryptographic generator,
so identifiers stay unguessable) 256 at a time, per thread, so that the lock is given up once
per 256 identifiers. A forked child starts with no identifiers drawn (never its parent's).

The identifiers are **version 7** (RFC 9562): the first 48 bits are the Unix time in
milliseconds, the other 74 (of 128, less version and variant) random. Records written in bulk
(a million data-usage records in a re-evaluation, the outbox's events, letters) are indexed by
their identifier: random version 4 keys land all over the index's B-tree, so each insert into
a large table touches a page not in the cache; time-ordered keys go to its right-hand edge.
74 random bits (a per-millisecond space of 2⁷⁴) keep an identifier unguessable, and the time
they carry is no more than the records beside them say (each has its own timestamp).
"""

from __future__ import annotations

import os
import threading
import time
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


_RANDOM_BITS = (1 << 74) - 1
_VERSION_7 = 0x7 << 76
_VARIANT = 0x2 << 62
_new_uuid = uuid.UUID.__new__
_set = object.__setattr__
_SAFE = uuid.SafeUUID.unknown


def new_id() -> uuid.UUID:
    """A time-ordered random UUID (version 7, RFC 9562: milliseconds then 74 random bits)."""
    random = int.from_bytes(_draw(), "big") & _RANDOM_BITS
    value = (
        (time.time_ns() // 1_000_000) << 80
        | _VERSION_7
        | (random >> 62) << 64  # rand_a: 12 bits
        | _VARIANT
        | (random & ((1 << 62) - 1))  # rand_b: 62 bits
    )
    return uuid_of_int(value)


def uuid_of_int(value: int) -> uuid.UUID:
    """The UUID whose 128 bits are ``value`` (as ``uuid.UUID(int=value)``, without its
    argument checks: a hot path; ``value`` must be a 128-bit UUID's own)."""
    made = _new_uuid(uuid.UUID)
    _set(made, "int", value)
    _set(made, "is_safe", _SAFE)
    return made


def new_salt() -> bytes:
    """16 random bytes, as ``secrets.token_bytes(16)`` gives (a record's salt)."""
    return _draw()


__all__ = ["new_id", "new_salt", "uuid_of_int"]
