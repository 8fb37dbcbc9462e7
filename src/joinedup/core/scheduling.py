"""How a web process asks the operating system to schedule its threads (setting
``cpu_scheduling``).

A web process hands every page from its event loop to a worker thread and back, and its
exchange records to the group-commit writer thread and back. Each hand-over wakes a thread.
Under Linux's default policy (``SCHED_OTHER``) a woken thread may preempt the thread that
woke it at once. On cores that are all busy, the thread preempted is often the one holding the
interpreter lock: the woken thread then only waits for that lock, and nothing of the process
runs until the scheduler comes back to the preempted thread.

``SCHED_BATCH`` is the same fair scheduler without that wake-up preemption (and with the same
nice value and share of the processor). A woken thread waits for the next ordinary scheduling
point, by which time the running thread has usually given the interpreter lock up by itself.
Under ``joinedup bench portal`` the mixed pages' p95 fell by about a tenth (see
``docs/architecture.md``). Switching to it needs no privilege. Where the operating system has no
such policy (not Linux), :func:`apply_cpu_scheduling` does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from joinedup.core.logging import get_logger

log = get_logger(__name__)

#: The values of the ``cpu_scheduling`` setting.
BATCH, NORMAL = "batch", "normal"


def _threads() -> list[int]:
    """The process's threads (Linux thread ids); just the calling one where ``/proc`` does not
    list them."""
    try:
        return [int(entry.name) for entry in Path("/proc/self/task").iterdir()]
    except (OSError, ValueError):
        return [0]


def apply_cpu_scheduling(policy: str) -> bool:
    """Put every thread of this process (and so every thread they start from now on) under
    ``policy``: :data:`BATCH` (``SCHED_BATCH``) or :data:`NORMAL` (``SCHED_OTHER``, the
    default of every process). Returns whether the threads now run under ``SCHED_BATCH``.
    Where the operating system cannot switch, nothing changes and the process runs as before
    (logged as ``cpu_scheduling_unchanged``, with the reason)."""
    if policy not in (BATCH, NORMAL):
        raise ValueError(f"cpu_scheduling is {BATCH!r} or {NORMAL!r}, not {policy!r}")
    setter = getattr(os, "sched_setscheduler", None)
    batch = getattr(os, "SCHED_BATCH", None)
    if setter is None or batch is None:
        if policy == BATCH:
            log.info("cpu_scheduling_unchanged", reason="no SCHED_BATCH on this system")
        return False
    wanted = batch if policy == BATCH else os.SCHED_OTHER
    try:
        for thread in _threads():
            try:
                setter(thread, wanted, os.sched_param(0))
            except ProcessLookupError:  # a thread that ended meanwhile
                continue
    except OSError as error:
        log.warning("cpu_scheduling_unchanged", reason=type(error).__name__)
        return False
    return policy == BATCH
