"""Several worker processes sharing the work: ``joinedup worker --only`` / ``--without``.

A busy consumer gets a process of its own (``--only``: that consumer and nothing else), and
another process runs the relay, the loops, the daily jobs and every other consumer
(``--without``). Together they handle every event once, as one worker would.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from bus_harness import (
    Stack,
    ThingHappened,
    bus_url_fixture,  # noqa: F401 (fixture)
    registry_of,
    stack_fixture,  # noqa: F401 (fixture)
    wait_until,
)
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.core.worker import WorkerShare, run_worker

KNOWN = ["proactive.births", "proactive.deaths", "tellusonce.death"]


def test_only_runs_those_consumers_and_nothing_else() -> None:
    share = WorkerShare.of(KNOWN, only=["proactive.births"])
    assert share == WorkerShare(frozenset({"proactive.births"}), background=False)


def test_without_runs_everything_else_with_the_relay_loops_and_jobs() -> None:
    share = WorkerShare.of(KNOWN, without=["proactive.births"])
    assert share == WorkerShare(frozenset({"proactive.deaths", "tellusonce.death"}))
    assert share.background  # the relay, the loops and the daily jobs


def test_neither_runs_everything() -> None:
    assert WorkerShare.of(KNOWN) == WorkerShare(None, background=True)


@pytest.mark.parametrize(
    ("only", "without", "message"),
    [
        (["proactive.births"], ["proactive.deaths"], "not both"),
        (["proactive.birth"], None, r"no consumer is named proactive\.birth;"),
        (None, ["nobody", "proactive.deaths"], "no consumer is named nobody;"),
        ([], None, "at least one consumer"),
    ],
)
def test_a_share_that_makes_no_sense_is_refused(
    only: list[str] | None, without: list[str] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        WorkerShare.of(KNOWN, only=only, without=without)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--only", "proactive.births", "--without", "tellusonce.death"], "not both"),
        (["--only", "proactive.births,no.such"], "no consumer is named no.such"),
        (["--without", "typo"], "no consumer is named typo"),
    ],
)
def test_the_worker_command_refuses_a_bad_share_before_it_starts(
    arguments: list[str], message: str
) -> None:
    result = CliRunner().invoke(app, ["worker", *arguments])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_two_processes_shares_handle_every_event_once(stack: Stack) -> None:
    """One worker ``--only`` the busy consumer (no relay: alone it publishes nothing), one
    ``--without`` it (the relay and the other consumer), each with connections of its own, as
    two processes would: every event reaches each consumer once."""
    registry = registry_of({"work.busy": [ThingHappened.name], "work.rest": [ThingHappened.name]})
    names = [c.name for c in registry]
    event_ids = stack.emit([ThingHappened(n=i) for i in range(120)])

    async def scenario() -> None:
        stops: list[asyncio.Event] = []
        workers: list[asyncio.Task[None]] = []

        def start(share: WorkerShare) -> None:
            stops.append(asyncio.Event())
            workers.append(
                asyncio.create_task(
                    run_worker(stack.settings, stop=stops[-1], consumers_from=registry, share=share)
                )
            )

        try:
            start(WorkerShare.of(names, only=["work.busy"]))
            await asyncio.sleep(1.0)  # alone: no relay, so nothing is published or handled
            assert stack.published_count() == 0
            assert stack.effect_count() == 0
            start(WorkerShare.of(names, without=["work.busy"]))
            await wait_until(lambda: stack.effect_count() >= 240, timeout=30)
        finally:
            for stop, worker in zip(stops, workers, strict=True):
                stop.set()
                await asyncio.wait_for(worker, timeout=10)

    asyncio.run(scenario())
    for name in ("work.busy", "work.rest"):
        applied = Counter(str(row.event_id) for row in stack.effects(name))
        assert set(applied) == {str(event_id) for event_id in event_ids}, name
        assert set(applied.values()) == {1}, name
