"""Domain events, how use cases emit them, and how consumers receive them.

An event is a frozen dataclass with a versioned ``name`` (``"population.birth_registered.v1"``).
:func:`emit` writes it to the outbox in the caller's transaction, so the event exists if and
only if the state change that caused it committed (STYLE.md habit 3). The relay later
publishes it; consumers receive it as a :class:`Delivered`.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.db import insert_rows
from joinedup.core.outbox import OutboxEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event. Subclasses set ``name`` and add their fields."""

    name: ClassVar[str] = "event.v1"

    def to_payload(self) -> dict[str, Any]:
        """The event's fields as JSON-safe values (dates ISO 8601, UUIDs and Decimals as text)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Delivered:
    """An event as the bus carries it: published by the relay, delivered to consumers.

    ``stream_seq`` is its place in the delivery order, the same on every bus backend.
    """

    event_id: uuid.UUID
    name: str
    payload: dict[str, Any]
    occurred_at: datetime
    stream_seq: int

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


def _jsonable(value: Any) -> Any:
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
    event_id = uuid.uuid4()
    now = utcnow()
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
    """Add many events in one bulk insert (batch use cases such as the seed).

    The rows go to the driver as multi-row inserts (:func:`~joinedup.core.db.insert_rows`):
    the ORM's per-row insert handling cost more than the write itself. Pending objects of the
    session are flushed first, so the outbox keeps the order the events were emitted in."""
    if not events:
        return []
    now = utcnow()
    event_ids = [uuid.uuid4() for _ in events]
    session.flush()
    insert_rows(
        session.connection(),
        cast(Table, OutboxEvent.__table__),
        ("event_id", "name", "payload", "occurred_at", "recorded_at"),
        [
            (event_id, event.name, event.to_payload(), now, now)
            for event_id, event in zip(event_ids, events, strict=True)
        ],
    )
    return event_ids
