"""Events of Tell Us Once. Payloads name life events, notifications and agencies (exchange
members), never persons."""

from __future__ import annotations

import dataclasses

from joinedup.core.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgencySubscribed(Event):
    name = "tellusonce.agency_subscribed.v1"

    subscription_id: int
    life_event: str
    service: str  # CLASS/MEMBER/SUBSYSTEM/SERVICE


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubscriptionEnded(Event):
    name = "tellusonce.subscription_ended.v1"

    subscription_id: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class LifeEventReceived(Event):
    """A life event came in; ``notifications`` agencies are to be told."""

    name = "tellusonce.life_event_received.v1"

    life_event_id: int
    kind: str
    notifications: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class AgencyInformed(Event):
    """An agency acknowledged a notification (its answer says what it did)."""

    name = "tellusonce.agency_informed.v1"

    notification_id: int
    life_event_id: int
    member_code: str
    outcome: str
    attempts: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class NotificationDeadLettered(Event):
    """An agency did not acknowledge after the last attempt: an operator's turn."""

    name = "tellusonce.notification_dead_lettered.v1"

    notification_id: int
    life_event_id: int
    member_code: str
    attempts: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class NotificationReplayed(Event):
    name = "tellusonce.notification_replayed.v1"

    notification_id: int
    life_event_id: int
    member_code: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class LifeEventCompleted(Event):
    """Every agency answered (or was dead-lettered) and the next of kin were written to."""

    name = "tellusonce.life_event_completed.v1"

    life_event_id: int
    kind: str
    acknowledged: int
    dead_lettered: int
    letters: int
