"""Domain events, how use cases emit them, and how consumers receive them.

An event is a frozen dataclass with a versioned ``name`` (``"population.birth_registered.v1"``).
:func:`emit` writes it to the outbox in the caller's transaction, so the event exists if and
only if the state change that caused it committed (STYLE.md habit 3). The relay later
publishes it; consumers receive it as a :class:`Delivered`.

After a transaction that emitted commits, the listeners added with
:func:`on_outbox_commit` are called (an after-commit hook, like warehouse's): the relay of
the same process wakes at once instead of at its next poll. Other work can be told of the
same way (:func:`tell_on_commit`, :func:`on_commit_of`): Tell Us Once's dispatcher wakes when
a death's notifications are committed.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, TypeVar, cast

import structlog
from sqlalchemy import Table
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy.orm import Session

from joinedup.core.bulk_writes import insert_rows
from joinedup.core.clock import utcnow
from joinedup.core.ids import new_id
from joinedup.core.listeners import Listeners
from joinedup.core.outbox import OutboxEvent

#: ``session.info`` key: what the transaction hands on once it commits (:func:`after_this_commit`).
_AFTER_COMMIT = "joinedup.after_commit"
#: :func:`after_this_commit` key: the topics the transaction tells of once it commits.
_TOPICS = "joinedup.commit_topics"
#: ``session.info`` key: what the transaction writes just before it commits
#: (:func:`before_this_commit`).
_BEFORE_COMMIT = "joinedup.before_commit"
#: ``session.info`` key: the events the transaction queued (:func:`emit_queued`).
_QUEUED = "joinedup.events.queued"
#: The topic of every transaction that emitted events (wrote outbox rows).
OUTBOX_TOPIC = "outbox"
_listeners: Listeners[str] = Listeners("commit_listener_failed")
log = structlog.get_logger(__name__)
T = TypeVar("T")


def on_commit_of(topic: str, listener: Callable[[], None]) -> Callable[[], None]:
    """Call ``listener`` (in the committing thread, so it must be quick and thread-safe) after
    every commit, in this process, of a transaction that told of ``topic``
    (:func:`tell_on_commit`); returns the function that removes it."""
    return _listeners.add(topic, listener)


def on_outbox_commit(listener: Callable[[], None]) -> Callable[[], None]:
    """:func:`on_commit_of` every transaction that emitted events."""
    return on_commit_of(OUTBOX_TOPIC, listener)


def after_this_commit(
    session: Session, key: str, make: Callable[[], T], then: Callable[[T], None]
) -> T:
    """The value ``key`` holds in the session's transaction (``make()`` when first asked
    for), handed to ``then`` in the committing thread once the transaction commits, and
    dropped if it rolls back: what a transaction gathers for after its commit (the topics
    it tells of, the personal codes it issued)."""
    pending = session.info.setdefault(_AFTER_COMMIT, {})
    found = pending.get(key)
    if found is None:
        found = pending[key] = (make(), then)
    return cast(T, found[0])


def before_this_commit(
    session: Session, key: str, make: Callable[[], T], then: Callable[[T], None]
) -> T:
    """The value ``key`` holds in the session's transaction (``make()`` when first asked
    for), handed to ``then`` in the transaction just before it commits (what ``then`` writes
    is the transaction's), or earlier by :func:`before_commit_now`; dropped if it rolls back:
    what a transaction gathers to write together at its end."""
    pending = session.info.setdefault(_BEFORE_COMMIT, {})
    found = pending.get(key)
    if found is None:
        found = pending[key] = (make(), then)
    return cast(T, found[0])


def before_commit_now(session: Session, key: str) -> None:
    """Hand what ``key`` gathered for the commit (:func:`before_this_commit`) to its ``then``
    now, in the transaction (nothing when it gathered nothing)."""
    found = session.info.get(_BEFORE_COMMIT, {}).pop(key, None)
    if found is not None:
        found[1](found[0])


def tell_on_commit(session: Session, topic: str) -> None:
    """Call the listeners of ``topic`` once the session's transaction commits (not if it
    rolls back), once however often it is told: work for a process's loop that would
    otherwise wait for its next poll."""
    after_this_commit(session, _TOPICS, set, _listeners.call).add(topic)


@sqlalchemy_event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_AFTER_COMMIT, None)
    for value, then in (pending or {}).values():
        try:
            then(value)
        except Exception:  # it must not look like a failed commit
            log.warning("after_commit_failed", exc_info=True)


@sqlalchemy_event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    """The whole transaction ended (not a savepoint): after a commit its values were handed
    on already (``after_commit`` comes first); after a rollback they are dropped, not left
    for the session's next transaction. (``after_rollback`` could not tell: the session is
    still in its transaction there, for a savepoint's rollback and the whole one's alike.)"""
    if transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)
        session.info.pop(_BEFORE_COMMIT, None)
        session.info.pop(_QUEUED, None)


@sqlalchemy_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    pending = session.info.pop(_BEFORE_COMMIT, None)
    for value, then in (pending or {}).values():
        then(value)  # (an error fails the commit: the transaction's writes are incomplete)
    emit_queued_now(session)  # (last: with any event what came before queued)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event. Subclasses set ``name`` and add their fields."""

    name: ClassVar[str] = "event.v1"

    def to_payload(self) -> dict[str, Any]:
        """The event's fields as JSON-safe values (dates ISO 8601, UUIDs and Decimals as text)."""
        names = _FIELD_NAMES.get(type(self))
        if names is None:  # dataclasses.fields() per event was most of a bulk emit's time
            names = _FIELD_NAMES[type(self)] = tuple(f.name for f in dataclasses.fields(self))
        return {name: _jsonable(getattr(self, name)) for name in names}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Delivered:
    """An event as the bus carries it: published by the relay, delivered to consumers.

    ``stream_seq`` is its place in the delivery order, the same on every bus backend. The
    payload may be shared by the consumers of one process (the embedded bus reads an event
    once for all of them): a handler reads it and never changes it.
    """

    event_id: uuid.UUID
    name: str
    payload: dict[str, Any]
    occurred_at: datetime
    stream_seq: int

    @classmethod
    def of(cls, row: Any, *, stream_seq: int) -> Delivered:
        """An outbox row (anything with its ``event_id``, ``name``, ``payload`` and
        ``occurred_at``) delivered as the ``stream_seq``-th event."""
        return cls(
            event_id=row.event_id,
            name=row.name,
            payload=row.payload,
            occurred_at=row.occurred_at,
            stream_seq=stream_seq,
        )

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "event_id": str(self.event_id),
                "name": self.name,
                "occurred_at": self.occurred_at.isoformat(),
                "stream_seq": self.stream_seq,
                "payload": self.payload,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Delivered:
        """The event in ``data``; raises ``ValueError`` if it is not one of ours."""
        try:
            raw = json.loads(data)
            occurred_at = datetime.fromisoformat(raw["occurred_at"])
            if occurred_at.tzinfo is None:
                raise ValueError("occurred_at has no timezone")
            return cls(
                event_id=uuid.UUID(raw["event_id"]),
                name=str(raw["name"]),
                payload=dict(raw["payload"]),
                occurred_at=occurred_at,
                stream_seq=int(raw["stream_seq"]),
            )
        except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a joinedup event envelope: {exc}") from exc


#: The field names of each event class, in declaration order.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_PLAIN = frozenset({str, int, float, bool, type(None)})


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def emit(session: Session, event: Event, *, occurred_at: datetime | None = None) -> uuid.UUID:
    """Add ``event`` to the outbox in the session's transaction; returns its event id."""
    event_id = new_id()
    now = utcnow()
    tell_on_commit(session, OUTBOX_TOPIC)
    session.add(
        OutboxEvent(
            event_id=event_id,
            name=event.name,
            payload=event.to_payload(),
            occurred_at=occurred_at or now,
            recorded_at=now,
        )
    )
    return event_id


def emit_many(session: Session, events: Sequence[Event]) -> list[uuid.UUID]:
    """Add many events in one bulk insert (batch use cases: the seed, a group of births)."""
    if not events:
        return []
    now = utcnow()
    event_ids = [new_id() for _ in events]
    _insert(
        session, [(event_id, event, now) for event_id, event in zip(event_ids, events, strict=True)]
    )
    return event_ids


def emit_queued(session: Session, event: Event) -> uuid.UUID:
    """Add ``event`` to the outbox with the other events the transaction queues, in one bulk
    insert when :func:`emit_queued_now` is called or, at the latest, just before the
    transaction commits (nothing if it rolls back); returns its event id. For a hot path
    that emits an event per item of a batch: an event added through the ORM (:func:`emit`)
    costs the unit of work an object each. Its place in the outbox is where it is inserted
    (after what the session has flushed by then): a caller that wants it before its later
    events calls :func:`emit_queued_now` first. Inside a savepoint it is emitted at once (a
    savepoint rolled back would otherwise leave it queued)."""
    if session.in_nested_transaction():
        return emit(session, event)
    event_id = new_id()
    session.info.setdefault(_QUEUED, []).append((event_id, event, utcnow()))
    return event_id


def emit_queued_now(session: Session) -> int:
    """Insert the events the transaction queued (:func:`emit_queued`) now, in one bulk
    insert after flushing the session; returns how many."""
    queued = session.info.pop(_QUEUED, None)
    if not queued:
        return 0
    _insert(session, queued)
    return len(queued)


def _insert(session: Session, events: Sequence[tuple[uuid.UUID, Event, datetime]]) -> None:
    session.flush()  # rows the session holds go first: ids follow the order of emission
    insert_rows(
        session.connection(),
        _OUTBOX,
        _OUTBOX_COLUMNS,
        [(event_id, event.name, event.to_payload(), at, at) for event_id, event, at in events],
    )
    tell_on_commit(session, OUTBOX_TOPIC)


_OUTBOX = cast(Table, OutboxEvent.__table__)
_OUTBOX_COLUMNS = ("event_id", "name", "payload", "occurred_at", "recorded_at")
