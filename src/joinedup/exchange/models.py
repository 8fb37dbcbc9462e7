"""The exchange's member directory. Nobody outside the ``exchange`` context imports these.

A **member** is an organisation that takes part in the data exchange (X-Road's member): an
agency at national, regional or local level (class ``GOV``), a company (``COM``) or a voluntary
organisation (``NGO``), identified inside the federation by its class and code. A
**subsystem** is one information system a member runs; calls are made by and to subsystems.
Services and access rights hang off subsystems (added by the exchange's own issue).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base


class Member(Base):
    __tablename__ = "exchange_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_class: Mapped[str] = mapped_column(String(10))
    member_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_member.id"), index=True)
    #: Administrative codes of the area the member serves (regional and local members).
    region_code: Mapped[str | None] = mapped_column(String(8))
    municipality_code: Mapped[str | None] = mapped_column(String(8))
    registered_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint("member_class", "member_code"),
        CheckConstraint("member_class IN ('GOV', 'COM', 'NGO')", name="member_class"),
        CheckConstraint("level IN ('national', 'regional', 'local')", name="level"),
    )


class Subsystem(Base):
    __tablename__ = "exchange_subsystem"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("exchange_member.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    registered_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("member_id", "code"),)
