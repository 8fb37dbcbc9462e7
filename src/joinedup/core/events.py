"""Domain events and how use cases emit them.

An event is a frozen dataclass with a versioned ``name`` (``"population.birth_registered.v1"``).
:func:`emit` writes it to the outbox in the caller's transaction, so the event exists if and
only if the state change that caused it committed (STYLE.md habit 3).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar

from sqlalchemy import insert
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.outbox import OutboxEvent


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every domain event. Subclasses set ``name`` and add their fields."""

    name: ClassVar[str] = "event.v1"

    def to_payload(self) -> dict[str, Any]:
        """The event's fields as JSON-safe values (dates ISO 8601, UUIDs and Decimals as text)."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


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
    session.add(
        OutboxEvent(
            event_id=event_id,
            name=event.name,
            payload=event.to_payload(),
            occurred_at=occurred_at or utcnow(),
        )
    )
    return event_id


def emit_many(session: Session, events: Sequence[Event]) -> list[uuid.UUID]:
    """Add many events in one bulk insert (batch use cases such as the seed)."""
    if not events:
        return []
    now = utcnow()
    rows = [
        {
            "event_id": uuid.uuid4(),
            "name": event.name,
            "payload": event.to_payload(),
            "occurred_at": now,
        }
        for event in events
    ]
    session.execute(insert(OutboxEvent), rows)
    return [row["event_id"] for row in rows]
