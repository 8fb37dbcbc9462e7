"""Worker jobs: long-running loops other than event consumers (e.g. a dispatcher that calls
agencies' systems over HTTP, which must not happen inside a consumer's transaction).

A context's ``handlers.py`` registers a job::

    @job("tellusonce.dispatch")
    async def dispatch(settings: Settings, database: Database, stop: asyncio.Event) -> None: ...

The workers (:class:`~joinedup.core.worker.EmbeddedWorkers`) run every registered job as a
supervised task next to the relay and the consumers: a job that fails is restarted after a
growing pause; it returns when ``stop`` is set. Jobs must tolerate several processes running
them at once (claim work with a lease in the database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from joinedup.core.consumers import CONSUMER_NAME
from joinedup.core.db import Database
from joinedup.core.settings import Settings

JobRunner = Callable[[Settings, Database, asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class Job:
    name: str
    run: JobRunner


class JobRegistry:
    """The jobs a process knows; importing ``handlers`` modules fills the default one."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def register(self, job: Job) -> None:
        if not CONSUMER_NAME.fullmatch(job.name):
            raise ValueError(f"job name {job.name!r} must match {CONSUMER_NAME.pattern}")
        self._jobs[job.name] = job

    def __iter__(self) -> Iterator[Job]:
        return iter(sorted(self._jobs.values(), key=lambda j: j.name))

    def __len__(self) -> int:
        return len(self._jobs)


#: The registry ``@job`` adds to and the workers run.
registry = JobRegistry()


def job(name: str, *, into: JobRegistry | None = None) -> Callable[[JobRunner], JobRunner]:
    """Register the decorated coroutine function ``run(settings, database, stop)`` as ``name``."""

    def register(run: JobRunner) -> JobRunner:
        (registry if into is None else into).register(Job(name=name, run=run))
        return run

    return register


__all__ = ["Job", "JobRegistry", "JobRunner", "job", "registry"]
