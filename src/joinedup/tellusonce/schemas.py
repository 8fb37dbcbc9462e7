"""Read models and request bodies of Tell Us Once."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class LifeEventKind(StrEnum):
    """The life events agencies may subscribe to."""

    DEATH = "death"
    MARRIAGE = "marriage"
    MOVE = "move"


class SubscriptionScope(StrEnum):
    ALL = "all"  # every event in the country
    RESIDENTS = "residents"  # persons living in the member's own municipality


class NotificationStatus(StrEnum):
    PENDING = "pending"
    ACKNOWLEDGED = "acknowledged"
    DEAD_LETTER = "dead_letter"


class _Read(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)


class SubscriptionRecord(_Read):
    id: int
    life_event: LifeEventKind
    service: str  # CLASS/MEMBER/SUBSYSTEM/SERVICE
    member_name: str
    scope: SubscriptionScope
    municipality_code: str | None
    active: bool
    created_at: datetime


class NotificationRecord(_Read):
    """One agency told of one life event. ``outcome`` is the agency's answer."""

    id: int
    life_event_id: int
    service: str
    member_name: str
    message_id: str
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    outcome: dict[str, Any] | None
    acknowledged_at: datetime | None
    dead_lettered_at: datetime | None
    replayed_at: datetime | None
    replayed_by: str | None


class LifeEventRecord(_Read):
    """A life event and how far informing the agencies has come. Names no person."""

    id: int
    kind: LifeEventKind
    occurred_on: date
    status: str
    received_at: datetime
    completed_at: datetime | None
    letters_sent: int
    notifications: list[NotificationRecord]


class StatusRecord(_Read):
    """Counts across every life event (the operator's overview)."""

    life_events_informing: int
    life_events_completed: int
    notifications_pending: int
    notifications_acknowledged: int
    notifications_dead_lettered: int


class AgencyAnswer(BaseModel):
    """What an agency's system answers a notification it handled (2xx)."""

    model_config = ConfigDict(extra="ignore", alias_generator=to_camel, populate_by_name=True)

    outcome: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")
    summary: str = Field(min_length=1, max_length=500)
    effective_from: date | None = None
    case_reference: str | None = Field(default=None, max_length=100)


class SubscribeBody(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    life_event: LifeEventKind
    service: str = Field(min_length=7, max_length=300, description="CLASS/MEMBER/SUBSYSTEM/SERVICE")
    scope: SubscriptionScope = SubscriptionScope.ALL


class ReplayBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=300)
