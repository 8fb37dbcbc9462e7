"""Automatic garbage collection paused for a bulk step, and given back as it was."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from joinedup.core.collection import collection_paused


@pytest.fixture(autouse=True)
def collection_on() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.enable()
    yield
    if enabled:  # as the test found it, whatever the test left
        gc.enable()
    else:
        gc.disable()


def test_collection_is_off_in_the_block_and_on_after() -> None:
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_failing_block_gives_collection_back() -> None:
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("the step failed")
    assert gc.isenabled()


def test_a_pause_inside_a_pause_ends_with_the_outer_one() -> None:
    with collection_paused():
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collection_turned_off_by_the_process_stays_off() -> None:
    gc.disable()
    with collection_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_cyclic_garbage_left_during_the_pause_is_collected_when_it_ends() -> None:
    class Node:
        def __init__(self) -> None:
            self.me = self

    with collection_paused():
        left = Node()
        alive = weakref.ref(left)
        del left
        assert alive() is not None  # a cycle: reference counting alone never frees it
    assert alive() is None


def test_steps_of_two_threads_share_one_pause() -> None:
    """Two re-evaluations in threads of one web process: the first to end must not give the
    collector back while the other is still in its step, nor the other leave it off."""
    import threading

    entered, second_may_end = threading.Event(), threading.Event()
    states: list[bool] = []

    def second() -> None:
        with collection_paused():
            entered.set()
            second_may_end.wait(5)
            states.append(gc.isenabled())

    with collection_paused():
        thread = threading.Thread(target=second)
        thread.start()
        assert entered.wait(5)
    states.append(gc.isenabled())  # the first has ended, the second has not
    second_may_end.set()
    thread.join(5)
    assert states == [False, False]
    assert gc.isenabled()


def test_a_server_settles_the_collector_once_started() -> None:
    """What startup made is frozen out of the collector's passes; the young generation is
    collected less often than Python's default (every 700 net allocations)."""
    from joinedup.core.collection import SERVING_THRESHOLDS, settle_for_serving

    before = gc.get_threshold()
    kept = [object() for _ in range(3)]
    try:
        settle_for_serving()
        assert gc.get_threshold() == SERVING_THRESHOLDS
        assert SERVING_THRESHOLDS[0] > 700
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_a_worker_process_settles_the_collector_before_it_runs() -> None:
    """``joinedup worker`` settles the collector as a web server does, before its relay and
    consumers start: in a process of its own (a frozen heap stays frozen)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import gc
        import joinedup.core.worker as worker
        from typer.testing import CliRunner
        from joinedup.cli import app

        async def probe(settings, share):
            print("@@", gc.get_freeze_count(), *gc.get_threshold())

        worker.run_worker = probe
        result = CliRunner().invoke(app, ["worker"], catch_exceptions=False)
        print(result.output, end="")  # (the runner caught what the probe printed)
        """
    )
    from joinedup.core.collection import SERVING_THRESHOLDS

    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    reported = [line.split()[1:] for line in ran.stdout.splitlines() if line.startswith("@@ ")]
    assert reported, (ran.stdout, ran.stderr)
    frozen, *thresholds = (int(n) for n in reported[0])
    assert frozen > 10_000  # the modules, mappers and registries start-up built
    assert tuple(thresholds) == SERVING_THRESHOLDS
