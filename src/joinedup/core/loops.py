"""Worker loops: long-running coroutines other than event consumers and daily jobs (e.g. a
dispatcher that calls agencies' systems over HTTP, which must not happen inside a consumer's
transaction).

A context's ``handlers.py`` registers a loop::

    @loop("tellusonce.dispatch")
    async def dispatch(settings: Settings, database: Database, stop: asyncio.Event) -> None: ...

The workers (:class:`~joinedup.core.worker.EmbeddedWorkers`) run every registered loop as a
supervised task next to the relay and the consumers: a loop that fails is restarted after a
growing pause; it returns when ``stop`` is set. Loops must tolerate several processes running
them at once (claim work with a lease in the database).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from joinedup.core.consumers import CONSUMER_NAME
from joinedup.core.db import Database
from joinedup.core.settings import Settings

LoopRunner = Callable[[Settings, Database, asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class Loop:
    name: str
    run: LoopRunner


class LoopRegistry:
    """The loops a process knows; importing ``handlers`` modules fills the default one."""

    def __init__(self) -> None:
        self._loops: dict[str, Loop] = {}

    def register(self, loop: Loop) -> None:
        if not CONSUMER_NAME.fullmatch(loop.name):
            raise ValueError(f"loop name {loop.name!r} must match {CONSUMER_NAME.pattern}")
        self._loops[loop.name] = loop

    def __iter__(self) -> Iterator[Loop]:
        return iter(sorted(self._loops.values(), key=lambda found: found.name))

    def __len__(self) -> int:
        return len(self._loops)


#: The registry ``@loop`` adds to and the workers run.
registry = LoopRegistry()


def loop(name: str, *, into: LoopRegistry | None = None) -> Callable[[LoopRunner], LoopRunner]:
    """Register the decorated coroutine function ``run(settings, database, stop)`` as ``name``."""

    def register(run: LoopRunner) -> LoopRunner:
        (registry if into is None else into).register(Loop(name=name, run=run))
        return run

    return register


__all__ = ["Loop", "LoopRegistry", "LoopRunner", "loop", "registry"]
