"""A web or worker process moves what its start-up built out of the cyclic garbage
collector's sight before it serves (setting ``gc_freeze``, on by default); off, nothing is
moved. Checked in processes of their own: a frozen heap stays frozen."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from joinedup.core.settings import Settings

_PROBE = textwrap.dedent(
    """
    import gc, sys, uvicorn
    import joinedup.web
    from joinedup.cli import server
    from joinedup.core.settings import Settings

    joinedup.web.create_app = lambda *a, **k: print("@@ built", gc.get_freeze_count())
    uvicorn.run = lambda *a, **k: print("@@ serving", gc.get_freeze_count())
    server._run_web(Settings(gc_freeze=sys.argv[1] == "on"), None, None, with_workers=False)
    """
)


def test_a_served_web_process_freezes_its_start_up_before_it_serves() -> None:
    """``joinedup serve`` (and ``demo``): nothing frozen while the application is built,
    everything built frozen before uvicorn runs it; with the setting off, nothing."""
    for setting in ("on", "off"):
        ran = subprocess.run(
            [sys.executable, "-c", _PROBE, setting], capture_output=True, text=True, check=True
        )
        counts = _reported(ran.stdout)
        built, serving = counts["built"], counts["serving"]
        assert built == 0, ran.stderr
        if setting == "on":
            assert serving > 10_000  # the modules, mappers and application: start-up's objects
        else:
            assert serving == 0


def test_a_worker_process_freezes_its_start_up_before_it_runs() -> None:
    script = textwrap.dedent(
        """
        import gc, sys
        import joinedup.core.worker as worker
        from typer.testing import CliRunner
        from joinedup.cli import app

        async def probe(settings, share):
            print("@@ running", gc.get_freeze_count())

        worker.run_worker = probe
        result = CliRunner().invoke(app, ["worker"], catch_exceptions=False)
        print(result.output, end="")
        """
    )
    for setting, frozen in (("true", True), ("false", False)):
        ran = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**_environment(), "JOINEDUP_GC_FREEZE": setting},
        )
        count = _reported(ran.stdout)["running"]
        assert (count > 10_000) is frozen, (setting, ran.stdout, ran.stderr)


def _reported(output: str) -> dict[str, int]:
    """What a probe printed (``@@ moment count`` lines; the logs go to stdout too)."""
    found = {}
    for line in output.splitlines():
        if line.startswith("@@ "):
            _, moment, count = line.split()
            found[moment] = int(count)
    return found


def _environment() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_the_setting_is_on_by_default() -> None:
    assert Settings().gc_freeze is True
    assert Settings(gc_freeze=False).gc_freeze is False
