"""Events of the proactive services. Payloads name the entitlement and the service, never the
person: a consumer that needs more reads it through the public use cases."""

from __future__ import annotations

import dataclasses

from joinedup.core.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class _EntitlementEvent(Event):
    entitlement_id: str
    service_code: str
    owner_member_code: str
    status: str
    revision: int
    amount_cents: int | None
    #: What caused it: a life event's name, or a person's decision.
    cause: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementEligible(_EntitlementEvent):
    name = "entitlement.eligible.v1"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementOffered(_EntitlementEvent):
    name = "entitlement.offered.v1"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementGranted(_EntitlementEvent):
    name = "entitlement.granted.v1"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementChanged(_EntitlementEvent):
    """Still granted (or offered), with another amount."""

    name = "entitlement.changed.v1"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementDeclined(_EntitlementEvent):
    name = "entitlement.declined.v1"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementOptedOut(_EntitlementEvent):
    name = "entitlement.opted_out.v1"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementEnded(_EntitlementEvent):
    name = "entitlement.ended.v1"


@dataclasses.dataclass(frozen=True, kw_only=True)
class EntitlementAwaitingConsent(_EntitlementEvent):
    name = "entitlement.awaiting_consent.v1"


#: The event of a status change (an unchanged status with a new amount: ``changed``).
EVENT_OF_STATUS: dict[str, type[_EntitlementEvent]] = {  # status → event
    "eligible": EntitlementEligible,
    "offered": EntitlementOffered,
    "granted": EntitlementGranted,
    "declined": EntitlementDeclined,
    "opted_out": EntitlementOptedOut,
    "ended": EntitlementEnded,
    "awaiting_consent": EntitlementAwaitingConsent,
}

_KINDS: list[type[_EntitlementEvent]] = [*EVENT_OF_STATUS.values(), EntitlementChanged]
#: Every event name the proactive services emit.
ENTITLEMENT_EVENTS: tuple[str, ...] = tuple(kind.name for kind in _KINDS)
