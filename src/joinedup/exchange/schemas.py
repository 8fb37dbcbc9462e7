"""Read models of the member directory (also the API's response bodies)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class MemberClass(StrEnum):
    """X-Road member classes: government, commercial, non-governmental."""

    GOV = "GOV"
    COM = "COM"
    NGO = "NGO"


class MemberLevel(StrEnum):
    NATIONAL = "national"
    REGIONAL = "regional"
    LOCAL = "local"


class MemberRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    member_class: MemberClass
    member_code: str
    name: str
    level: MemberLevel
    parent_member_class: MemberClass | None
    parent_member_code: str | None
    region_code: str | None
    municipality_code: str | None
    registered_at: datetime

    def identifier(self, instance: str) -> str:
        """The X-Road member identifier ``INSTANCE/CLASS/CODE``."""
        return f"{instance}/{self.member_class}/{self.member_code}"


class SubsystemRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    member_class: MemberClass
    member_code: str
    code: str
    name: str
    registered_at: datetime

    def identifier(self, instance: str) -> str:
        """The X-Road subsystem identifier ``INSTANCE/CLASS/MEMBER/SUBSYSTEM``."""
        return f"{instance}/{self.member_class}/{self.member_code}/{self.code}"
