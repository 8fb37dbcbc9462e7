"""How a process asks the operating system to schedule its threads: a web process's policy
(setting ``cpu_scheduling``), and one thread's priority raised for a while
(:class:`PriorityBoost`, setting ``sqlite_writer_priority``).

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

import contextlib
import os
import sys
import threading
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


#: Whether ``setpriority`` on a thread id changes that thread only (Linux, where niceness is a
#: thread's own): elsewhere the id could name another process.
THREAD_NICENESS = sys.platform.startswith("linux") and hasattr(os, "setpriority")


class PriorityBoost:
    """Raises a thread's scheduling priority by ``boost`` steps of niceness while it does
    something the rest of the machine waits for, and gives it back afterwards.

    Linux only (:data:`THREAD_NICENESS`). Raising a priority needs ``CAP_SYS_NICE`` or a
    ``RLIMIT_NICE`` that allows it (systemd's ``LimitNICE=``); the first refusal turns the
    boost off for good, said once in the log (``thread_priority_not_raised``) — the caller
    works the same, only without the priority."""

    def __init__(self, boost: int) -> None:
        if not 0 <= boost <= 39:
            raise ValueError(f"a priority boost is 0 to 39 steps of niceness, not {boost}")
        self.boost = boost
        self.permitted = boost > 0 and THREAD_NICENESS

    def raise_for(self, thread_id: int) -> int | None:
        """Raise the priority of the thread ``thread_id`` (a native thread id); returns its
        niceness before (given back by :meth:`restore`), or None when it was left as it was.

        A thread raised already (it holds two things at once — two SQLite files' turns, say)
        is not raised again: it is counted, the niceness it had before the first raise is
        returned, and it gets it back with the **last** :meth:`restore`, in whatever order
        the two are given back (given back with the first, it would run at its own priority
        while still holding the other; given back in the wrong order, it would stay raised)."""
        if not self.permitted:
            return None
        with _boosted_lock:
            held = _boosted.get(thread_id)
            if held is not None:
                held[1] += 1
                return held[0]
            try:
                before = os.getpriority(os.PRIO_PROCESS, thread_id)
                raised = max(-20, before - self.boost)
                if raised == before:
                    return None
                os.setpriority(os.PRIO_PROCESS, thread_id, raised)
            except OSError as error:
                self.permitted = False  # refused: not tried again
                log.info("thread_priority_not_raised", reason=type(error).__name__)
                return None
            _boosted[thread_id] = [before, 1]
            return before

    @staticmethod
    def restore(thread_id: int) -> None:
        """Give the thread raised by :meth:`raise_for` back the niceness it had, once every
        raise of it is given back (lowering a priority needs no privilege; a thread that has
        ended meanwhile has nothing to give back)."""
        with _boosted_lock:
            held = _boosted.get(thread_id)
            if held is None:  # (not raised: nothing to give back)
                return
            held[1] -= 1
            if held[1] > 0:
                return
            del _boosted[thread_id]
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, thread_id, held[0])


#: The threads raised now (native id → [niceness before the first raise, raises not given
#: back yet]), whichever :class:`PriorityBoost` raised them.
_boosted: dict[int, list[int]] = {}
_boosted_lock = threading.Lock()
