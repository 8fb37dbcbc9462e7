"""Python's cyclic garbage collector, kept out of the way of bulk work.

The collector runs when allocations outnumber deallocations by a threshold, and every so
often it examines every object the process holds. A bulk step — a re-evaluation's chunk
makes hundreds of thousands of rows, tuples and records that live until the chunk commits —
sets it off again and again, and each full pass walks the whole heap (the rules, the
mappers, the chunk's own columns): a re-evaluation of a million persons spent about a
quarter of its time there.

:func:`collection_paused` pauses automatic collection for such a step. What the step frees
by reference counting (almost everything: its rows hold no cycles) is freed at once as
always; the little cyclic garbage it leaves is collected once the collector runs again after
the step. A step inside another's pause, or in a process whose collection is off, changes
nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    """Automatic cyclic garbage collection off while the block runs (see the module)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


__all__ = ["collection_paused"]
