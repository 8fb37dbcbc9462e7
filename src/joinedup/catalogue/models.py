"""Tables of the service catalogue. Nobody outside ``catalogue`` imports them.

- ``catalogue_service``: one row per service of any agency at any level: its code, its names
  and descriptions per language, the owning agency (an exchange member) and the subsystem that
  acts for it, the delivery mode, the ruleset variable that decides eligibility and amount,
  the exchange purpose its inputs are read for, its legal and lawful basis, and the ruleset
  inputs an applicant declares in an online application.
- ``catalogue_life_event``: the life events that concern a service and whom each concerns
  (the newborn's parents, the deceased's spouse, the person themselves).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from joinedup.core.db import Base

LEVELS = ("national", "regional", "local")
DELIVERY_MODES = ("automatic", "proactive_offer", "inform", "application")
LAWFUL_BASES = ("law", "consent")
LIFE_EVENTS = (
    "birth",
    "death",
    "marriage",
    "address_change",
    "employment_ended",
    "age_6",
    "age_18",
    "pension_age",
)
CONCERNS = ("person", "parents", "child", "spouse", "estate")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class CatalogueService(Base):
    __tablename__ = "catalogue_service"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``{locale: text}``; English is required (the source language).
    names: Mapped[dict[str, str]] = mapped_column(JSON)
    descriptions: Mapped[dict[str, str]] = mapped_column(JSON)
    owner_member_class: Mapped[str] = mapped_column(String(10))
    owner_member_code: Mapped[str] = mapped_column(String(64), index=True)
    #: The owner's subsystem that reads the inputs and decides (its exchange client).
    owner_subsystem: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(10))
    delivery_mode: Mapped[str] = mapped_column(String(20))
    ruleset: Mapped[str] = mapped_column(String(64))
    variable: Mapped[str] = mapped_column(String(100))
    #: One entitlement per occasion (a grant per birth) rather than one that continues.
    per_occasion: Mapped[bool]
    #: The exchange purpose the inputs are read for (under the owner's access rights).
    purpose: Mapped[str] = mapped_column(String(100))
    legal_basis: Mapped[str] = mapped_column(String(300))
    legal_basis_url: Mapped[str | None] = mapped_column(String(500))
    lawful_basis: Mapped[str] = mapped_column(String(10))
    #: The consent data agreement when the lawful basis is consent.
    data_agreement_id: Mapped[uuid.UUID | None]
    #: Where to apply (``inform`` and ``application`` services) or read more.
    apply_url: Mapped[str | None] = mapped_column(String(500))
    #: The ruleset's input variables the applicant declares in an online application (what
    #: no register holds, e.g. the rent); empty: nothing is asked, the registers suffice.
    applicant_inputs: Mapped[list[str]] = mapped_column(JSON)
    #: An offer lapses when not accepted within this many days of being made (its last
    #: decision); None: it stands until the person decides. Offers only.
    respond_within_days: Mapped[int | None]
    active: Mapped[bool]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))

    life_events: Mapped[list[CatalogueLifeEvent]] = relationship(
        back_populates="service",
        cascade="all, delete-orphan",
        order_by="CatalogueLifeEvent.position",
        lazy="selectin",
    )

    __table_args__ = (
        CheckConstraint(_in("level", LEVELS), name="level"),
        CheckConstraint(_in("delivery_mode", DELIVERY_MODES), name="delivery_mode"),
        CheckConstraint(_in("lawful_basis", LAWFUL_BASES), name="lawful_basis"),
        CheckConstraint(
            "(lawful_basis = 'consent') = (data_agreement_id IS NOT NULL)",
            name="consent_agreement",
        ),
    )


class CatalogueLifeEvent(Base):
    __tablename__ = "catalogue_life_event"

    service_id: Mapped[int] = mapped_column(
        ForeignKey("catalogue_service.id", ondelete="CASCADE"), primary_key=True
    )
    life_event: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)
    concerns: Mapped[str] = mapped_column(String(10), primary_key=True)
    position: Mapped[int]

    service: Mapped[CatalogueService] = relationship(back_populates="life_events")

    __table_args__ = (
        CheckConstraint(_in("life_event", LIFE_EVENTS), name="life_event"),
        CheckConstraint(_in("concerns", CONCERNS), name="concerns"),
    )
