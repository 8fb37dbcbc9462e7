"""Tables of the proactive services. Nobody outside ``proactive`` imports them.

- ``proactive_entitlement``: what a person is entitled to from one catalogued service (per
  occasion for one-off grants): its status (eligible, offered, granted, declined, opted out,
  ended, or awaiting the person's consent), amount and period, the plain-language reason,
  the ruleset version and the legal basis it was decided under; and (read from its current
  revision, :attr:`Entitlement.explanation`) the rules' explanation.
- ``proactive_entitlement_revision``: every change of an entitlement, in order, with who made
  it (the platform reacting to a life event, the person, or someone acting for them), the
  rules' explanation of that decision (stored only here: an explanation is most of an
  entitlement's bytes), and the decision letter that told the person.
- ``proactive_application``: an online application for a service (on application, or one the
  person was told they may be entitled to): what the applicant declared, who applied, for
  whom and when, and the outcome it led to (the entitlement granted, or refused).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    select,
)
from sqlalchemy.orm import Mapped, column_property, mapped_column
from sqlalchemy.schema import UniqueConstraint
from sqlalchemy.sql.naming import conv

from joinedup.core.db import Base

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

STATUSES = (
    "eligible",
    "offered",
    "granted",
    "declined",
    "opted_out",
    "ended",
    "awaiting_consent",
)
_STATUS_CHECK = "status IN (" + ", ".join(f"'{s}'" for s in STATUSES) + ")"


class Entitlement(Base):
    __tablename__ = "proactive_entitlement"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    #: The public identifier (API paths, letters' ``regarding``).
    uid: Mapped[uuid.UUID] = mapped_column(unique=True)
    person_code: Mapped[str] = mapped_column(String(32))
    service_code: Mapped[str] = mapped_column(String(64))
    #: ``""`` for an entitlement that continues (child benefit); else what it is for (a birth).
    occasion: Mapped[str] = mapped_column(String(100))
    owner_member_class: Mapped[str] = mapped_column(String(10))
    owner_member_code: Mapped[str] = mapped_column(String(64))
    delivery_mode: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    #: Money in cents (None for a service without an amount, e.g. school enrolment).
    amount: Mapped[int | None] = mapped_column(BigInteger)
    period_start: Mapped[date]
    period_end: Mapped[date | None]
    #: The life event that last changed it, and whom it regards (the newborn), if anyone else.
    life_event: Mapped[str | None] = mapped_column(String(20))
    regarding_code: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    if TYPE_CHECKING:
        #: The rules' explanation of the current decision: its current revision's (mapped
        #: below, read with the row; written with the revision, never to this table).
        explanation: Mapped[dict[str, Any]]
    ruleset: Mapped[str] = mapped_column(String(64))
    ruleset_version: Mapped[str] = mapped_column(String(32))
    variable: Mapped[str] = mapped_column(String(100))
    legal_basis: Mapped[str] = mapped_column(String(300))
    legal_basis_url: Mapped[str | None] = mapped_column(String(500))
    revision: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint(_STATUS_CHECK, name="status"),
        UniqueConstraint(
            "person_code",
            "service_code",
            "occasion",
            name=conv("uq_proactive_entitlement_person_service_occasion"),
        ),
        Index("ix_proactive_entitlement_person", "person_code", "id"),
        Index("ix_proactive_entitlement_owner", "owner_member_code", "service_code", "id"),
    )


class EntitlementRevision(Base):
    __tablename__ = "proactive_entitlement_revision"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("proactive_entitlement.id"))
    revision: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    period_start: Mapped[date]
    period_end: Mapped[date | None]
    reason: Mapped[str] = mapped_column(Text)
    explanation: Mapped[dict[str, Any]] = mapped_column(JSON)
    ruleset_version: Mapped[str] = mapped_column(String(32))
    #: ``proactive`` (reacting to a life event), ``person:<code>``, ``client:<id>``, …
    actor: Mapped[str] = mapped_column(String(100))
    #: Set when the actor decided for someone else under a mandate (the subject's code).
    acting_for: Mapped[str | None] = mapped_column(String(32))
    #: The event that caused the change, if one did.
    event_id: Mapped[uuid.UUID | None]
    #: The sender's reference of the decision letter sent to the person about this change.
    letter_reference: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint(_STATUS_CHECK, name="status"),
        UniqueConstraint(
            "entitlement_id",
            "revision",
            name=conv("uq_proactive_entitlement_revision_number"),
        ),
    )


Entitlement.explanation = column_property(
    select(EntitlementRevision.explanation)
    .where(
        EntitlementRevision.entitlement_id == Entitlement.id,
        EntitlementRevision.revision == Entitlement.revision,
    )
    .correlate_except(EntitlementRevision)
    .scalar_subquery()
)


OUTCOMES = ("granted", "refused")


class Application(Base):
    __tablename__ = "proactive_application"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    #: The public identifier (confirmation page, API answers).
    uid: Mapped[uuid.UUID] = mapped_column(unique=True)
    service_code: Mapped[str] = mapped_column(String(64))
    #: Whom it is for, and who applied (the same person, or someone with a mandate).
    person_code: Mapped[str] = mapped_column(String(32))
    actor_code: Mapped[str] = mapped_column(String(32))
    #: The form's (or the API client's) key: the same submission sent twice is one application.
    submission: Mapped[uuid.UUID]
    #: What the applicant declared: ``{variable: value}`` in the rules' terms.
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: The month the rules were evaluated for.
    period_start: Mapped[date]
    outcome: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    entitlement_id: Mapped[int] = mapped_column(ForeignKey("proactive_entitlement.id"))
    submitted_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint(
            "outcome IN (" + ", ".join(f"'{o}'" for o in OUTCOMES) + ")", name="outcome"
        ),
        UniqueConstraint(
            "person_code",
            "service_code",
            "submission",
            name=conv("uq_proactive_application_submission"),
        ),
        Index("ix_proactive_application_person", "person_code", "id"),
    )
