"""Events of the exchange's member directory."""

from __future__ import annotations

import dataclasses

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
