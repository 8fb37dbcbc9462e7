"""The web processes' scheduling policy (setting ``cpu_scheduling``): every thread of the
process under ``SCHED_BATCH`` (the threads started before the switch and those started after),
back under the system's default with ``normal``, and nothing changed (nor raised) where the
system cannot switch. Each switch runs in a process of its own: the test process keeps its
policy."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from pydantic import ValidationError
from structlog.testing import capture_logs

from joinedup.core import scheduling
from joinedup.core.settings import Settings

linux_only = pytest.mark.skipif(
    not hasattr(os, "SCHED_BATCH"), reason="scheduling policies are Linux's"
)

_PROBE = textwrap.dedent(
    """
    import os, sys, threading
    from joinedup.core.scheduling import apply_cpu_scheduling

    # a thread started before the switches, asked for its policy after them
    asked, answered, seen = threading.Event(), threading.Event(), {}
    def earlier():
        asked.wait()
        seen["earlier"] = os.sched_getscheduler(0)
        answered.set()
    threading.Thread(target=earlier).start()

    applied = [apply_cpu_scheduling(policy) for policy in sys.argv[1:]]
    def later():
        seen["later"] = os.sched_getscheduler(0)
    thread = threading.Thread(target=later)
    thread.start()
    thread.join()
    asked.set()
    answered.wait()
    print(applied[-1], os.sched_getscheduler(0), seen["earlier"], seen["later"])
    """
)


def _switched(*policies: str) -> tuple[str, set[int]]:
    """Whether the last switch says ``SCHED_BATCH`` is in force, and the policies of the
    process's main thread, of a thread started before the switches and of one started after."""
    ran = subprocess.run(
        [sys.executable, "-c", _PROBE, *policies], capture_output=True, text=True, check=True
    )
    applied, *found = ran.stdout.split()
    return applied, {int(policy) for policy in found}


@linux_only
def test_batch_puts_every_thread_of_the_process_under_sched_batch() -> None:
    assert _switched("batch") == ("True", {os.SCHED_BATCH})


@linux_only
def test_normal_puts_them_back_under_the_default_policy() -> None:
    assert _switched("batch", "normal") == ("False", {os.SCHED_OTHER})


@linux_only
def test_served_web_processes_run_under_sched_batch_by_default() -> None:
    """``joinedup serve`` (and ``demo``) switch before the application starts any thread;
    ``JOINEDUP_CPU_SCHEDULING=normal`` leaves the default. (The supervisor's processes are
    checked in ``tests/web/test_web_processes.py``.)"""
    script = textwrap.dedent(
        """
        import os, sys, uvicorn
        import joinedup.web
        from joinedup.cli import server
        from joinedup.core.settings import Settings

        joinedup.web.create_app = lambda *a, **k: print(os.sched_getscheduler(0), end=" ")
        uvicorn.run = lambda *a, **k: print(os.sched_getscheduler(0))
        server._run_web(Settings(cpu_scheduling=sys.argv[1]), None, None, with_workers=False)
        """
    )
    for policy, expected in (("batch", os.SCHED_BATCH), ("normal", os.SCHED_OTHER)):
        ran = subprocess.run(
            [sys.executable, "-c", script, policy], capture_output=True, text=True, check=True
        )
        assert ran.stdout.split() == [str(expected)] * 2, (policy, ran.stdout, ran.stderr)


def test_the_setting_is_batch_by_default_and_refuses_other_values() -> None:
    assert Settings().cpu_scheduling == "batch"
    assert Settings(cpu_scheduling="normal").cpu_scheduling == "normal"
    with pytest.raises(ValidationError, match="cpu_scheduling"):
        Settings(cpu_scheduling="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'batch' or 'normal'"):
        scheduling.apply_cpu_scheduling("fast")


def test_a_system_without_the_policy_is_left_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_: object) -> None:
        raise AssertionError("nothing is switched")

    monkeypatch.delattr(os, "SCHED_BATCH", raising=False)
    monkeypatch.setattr(os, "sched_setscheduler", never, raising=False)
    with capture_logs() as logs:
        assert scheduling.apply_cpu_scheduling("batch") is False
        assert scheduling.apply_cpu_scheduling("normal") is False
    assert [entry["event"] for entry in logs] == ["cpu_scheduling_unchanged"]


@linux_only
def test_a_refused_switch_is_logged_and_the_process_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refused(*_: object) -> None:
        raise PermissionError("not allowed")

    monkeypatch.setattr(os, "sched_setscheduler", refused)
    with capture_logs() as logs:
        assert scheduling.apply_cpu_scheduling("batch") is False
    assert [(e["event"], e["reason"]) for e in logs] == [
        ("cpu_scheduling_unchanged", "PermissionError")
    ]


@linux_only
def test_a_thread_that_ended_meanwhile_is_passed_over(monkeypatch: pytest.MonkeyPatch) -> None:
    switched: list[int] = []

    def switch(thread: int, policy: int, _param: object) -> None:
        if thread == 999_999_999:
            raise ProcessLookupError(thread)
        switched.append(thread)

    monkeypatch.setattr(scheduling, "_threads", lambda: [999_999_999, 0])
    monkeypatch.setattr(os, "sched_setscheduler", switch)
    assert scheduling.apply_cpu_scheduling("batch") is True
    assert switched == [0]
