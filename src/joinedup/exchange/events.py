"""Events of the exchange: its directory, services, access rights and API clients."""

from __future__ import annotations

import dataclasses
from datetime import date

from joinedup.core.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class MemberRegistered(Event):
    name = "exchange.member_registered.v1"

    member_id: int
    member_class: str
    member_code: str
    level: str
    parent_member_code: str | None


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubsystemRegistered(Event):
    name = "exchange.subsystem_registered.v1"

    subsystem_id: int
    member_class: str
    member_code: str
    subsystem_code: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServicePublished(Event):
    name = "exchange.service_published.v1"

    service_id: int
    service: str  # CLASS/MEMBER/SUBSYSTEM/SERVICE
    kind: str
    fields: list[str]


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccessRightGranted(Event):
    name = "exchange.access_right_granted.v1"

    right_id: int
    client: str  # CLASS/MEMBER/SUBSYSTEM
    service: str  # CLASS/MEMBER/SUBSYSTEM/SERVICE
    fields: list[str]
    purposes: list[str]
    valid_from: date
    valid_to: date | None
    law_enforcement: bool


@dataclasses.dataclass(frozen=True, kw_only=True)
class AccessRightRevoked(Event):
    name = "exchange.access_right_revoked.v1"

    right_id: int
    client: str
    service: str
    reason: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApiClientRegistered(Event):
    name = "exchange.api_client_registered.v1"

    client_id: str
    subsystem: str  # CLASS/MEMBER/SUBSYSTEM


@dataclasses.dataclass(frozen=True, kw_only=True)
class ApiClientRevoked(Event):
    name = "exchange.api_client_revoked.v1"

    client_id: str
    subsystem: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class AdministratorAppointed(Event):
    name = "exchange.administrator_appointed.v1"

    subsystem: str
