"""Event consumers: how a context reacts to events, registered once per process.

A context's ``handlers.py`` registers its reactions::

    @consumer("proactive.birth", events=["population.birth_registered.v1"])
    def offer_birth_services(session: Session, event: Delivered) -> None: ...

or, for a consumer that reacts to many events of the same kind, in batches::

    @consumer("proactive.birth", events=["population.birth_registered.v1"], batch=100)
    def offer_birth_services(session: Session, events: list[Delivered]) -> None: ...

A batch consumer may also **prepare** its batches outside the write transaction (on SQLite)::

    @consumer("proactive.births", events=[...], batch=100, prepare=decide_births)

How a delivery is handled — once each through the inbox, batches in one transaction, a
failed batch one event at a time, retries, dead letters, the two phases of a prepared batch —
is :mod:`joinedup.core.handling`'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, cast, overload

import structlog
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.core.errors import NotFound
from joinedup.core.events import Delivered

log = structlog.get_logger(__name__)

Handler = Callable[[Session, Delivered], None]
#: A batch consumer's handler: the events of one batch not handled before, in stream order.
BatchHandler = Callable[[Session, list[Delivered]], None]


class Preparation(Protocol):
    """What a two-phase consumer's ``prepare`` read and decided outside the write lock."""

    def keep(self, session: Session) -> None:
        """Write, in the delivery's transaction, what is kept whether or not the decisions
        are applied (the records of the reads made)."""

    def apply(self, session: Session) -> bool:
        """Write what was decided, in the delivery's transaction; False (having written
        nothing) when what the decisions looked at has changed since they were made."""

    def abandon(self) -> None:
        """The delivery's write transaction failed, or the first phase's own transaction did
        after the preparation was made: write what is kept in any case and was not committed
        (the records of the reads made) in a transaction of its own."""


#: A batch consumer's first phase: ``(session, events, database)``, the events not handled
#: before, in a transaction that refuses writes (``database``: for what must be written
#: elsewhere meanwhile, such as a member's first signing key).
Preparer = Callable[[Session, list[Delivered], Database], Preparation | None]

#: Consumer names: lower case, digits, ``_ . -`` (they also name JetStream consumers).
CONSUMER_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
#: Event names are dotted words; no spaces or wildcards (they become NATS subjects).
EVENT_NAME = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+")
#: The largest batch a consumer may ask for (JetStream's pending acknowledgements allow 1,000).
MAX_BATCH = 1000


@dataclass(frozen=True)
class Consumer:
    """A named reaction to some events. ``max_attempts`` overrides the setting if given.

    With ``batch`` set, ``handler`` is a :data:`BatchHandler` taking up to ``batch`` events
    at once; otherwise a :data:`Handler` taking one.
    """

    name: str
    events: frozenset[str]
    handler: Handler | BatchHandler
    max_attempts: int | None = None
    batch: int | None = None
    #: A batch consumer's first phase (see the module docstring).
    prepare: Preparer | None = None

    def handle(self, session: Session, events: list[Delivered]) -> None:
        """Run the handler on ``events`` (a batch handler once, a single one per event)."""
        if self.batch is not None:
            cast(BatchHandler, self.handler)(session, events)
            return
        for event in events:
            cast(Handler, self.handler)(session, event)


class ConsumerRegistry:
    """The consumers a process knows; importing ``handlers`` modules fills the default one."""

    def __init__(self) -> None:
        self._consumers: dict[str, Consumer] = {}

    def register(self, consumer: Consumer) -> None:
        if not CONSUMER_NAME.fullmatch(consumer.name):
            raise ValueError(f"consumer name {consumer.name!r} must match {CONSUMER_NAME.pattern}")
        if not consumer.events:
            raise ValueError(f"consumer {consumer.name!r} subscribes to no event")
        for name in consumer.events:
            if not EVENT_NAME.fullmatch(name):
                raise ValueError(f"event name {name!r} must match {EVENT_NAME.pattern}")
        if consumer.max_attempts is not None and consumer.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if consumer.batch is not None and not 1 <= consumer.batch <= MAX_BATCH:
            raise ValueError(f"batch must be between 1 and {MAX_BATCH}")
        if consumer.prepare is not None and consumer.batch is None:
            raise ValueError(f"consumer {consumer.name!r} prepares batches: it needs batch=N")
        existing = self._consumers.get(consumer.name)
        if existing is not None and _origin(existing.handler) != _origin(consumer.handler):
            raise ValueError(
                f"consumer {consumer.name!r} is already registered by {_origin(existing.handler)}"
            )
        self._consumers[consumer.name] = consumer

    def get(self, name: str) -> Consumer:
        try:
            return self._consumers[name]
        except KeyError:
            raise NotFound(
                f"no consumer named {name!r} is registered in this process", consumer=name
            ) from None

    def __iter__(self) -> Iterator[Consumer]:
        return iter(sorted(self._consumers.values(), key=lambda c: c.name))

    def __len__(self) -> int:
        return len(self._consumers)


def _origin(handler: Callable[..., None]) -> str:
    return f"{getattr(handler, '__module__', '?')}.{getattr(handler, '__qualname__', '?')}"


#: The registry ``@consumer`` adds to and the workers run.
registry = ConsumerRegistry()


@overload
def consumer(
    name: str,
    *,
    events: Iterable[str],
    max_attempts: int | None = None,
    into: ConsumerRegistry | None = None,
) -> Callable[[Handler], Handler]: ...


@overload
def consumer(
    name: str,
    *,
    events: Iterable[str],
    batch: int,
    max_attempts: int | None = None,
    prepare: Preparer | None = None,
    into: ConsumerRegistry | None = None,
) -> Callable[[BatchHandler], BatchHandler]: ...


def consumer(
    name: str,
    *,
    events: Iterable[str],
    batch: int | None = None,
    max_attempts: int | None = None,
    prepare: Preparer | None = None,
    into: ConsumerRegistry | None = None,
) -> Callable[[Any], Any]:
    """Register the decorated handler as consumer ``name`` of ``events``.

    Without ``batch`` the handler is ``handler(session, event)``, called once per event in a
    transaction of its own. With ``batch=N`` it is ``handler(session, events)``, called with
    up to ``N`` events (never an empty list) in one transaction; see the module's docstring
    for what happens when a batch fails. ``prepare`` (batch consumers only): the first phase,
    outside the write transaction (the module docstring says how the two phases meet).

    The handler runs inside the delivery's transaction: it flushes, never commits, and must
    not have effects outside the database (send mail through the outbox of ``notify``).
    """

    def register(handler: Any) -> Any:
        (registry if into is None else into).register(
            Consumer(
                name=name,
                events=frozenset(events),
                handler=handler,
                max_attempts=max_attempts,
                batch=batch,
                prepare=prepare,
            )
        )
        return handler

    return register


__all__ = [
    "CONSUMER_NAME",
    "EVENT_NAME",
    "MAX_BATCH",
    "BatchHandler",
    "Consumer",
    "ConsumerRegistry",
    "Delivered",
    "Handler",
    "Preparation",
    "Preparer",
    "consumer",
    "registry",
]
