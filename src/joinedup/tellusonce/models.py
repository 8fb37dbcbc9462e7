"""Tables of Tell Us Once. Nobody outside ``tellusonce`` imports them.

- ``tellusonce_subscription``: an agency's service that is told of a kind of life event
  (``death``, ``marriage``, ``move``): the member's REST service in the exchange directory,
  everywhere or only for residents of the member's own municipality (a local authority).
- ``tellusonce_life_event``: a life event as Tell Us Once received it (one per registry event),
  whom it is about, who is told of the outcome (the spouse, else adult children), and whether
  every agency has answered and the letter was sent.
- ``tellusonce_notification``: one agency told of one life event — unique per (life event,
  subscription), which is what makes "each agency exactly once" hold on our side; the
  ``message_id`` (``X-Road-Id``) is the agency's idempotency key on theirs. Pending until the
  agency acknowledges, retried with growing delays, dead-lettered after the last attempt.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import ForeignKey, UniqueConstraint
from sqlalchemy.sql.naming import conv

from joinedup.core.db import Base

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class Subscription(Base):
    __tablename__ = "tellusonce_subscription"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    #: ``death``, ``marriage`` or ``move``.
    life_event: Mapped[str] = mapped_column(String(20))
    member_class: Mapped[str] = mapped_column(String(10))
    member_code: Mapped[str] = mapped_column(String(64))
    member_name: Mapped[str] = mapped_column(String(300))
    subsystem_code: Mapped[str] = mapped_column(String(64))
    service_code: Mapped[str] = mapped_column(String(64))
    #: ``all`` (every event) or ``residents`` (persons living in ``municipality_code``).
    scope: Mapped[str] = mapped_column(String(20))
    municipality_code: Mapped[str | None] = mapped_column(String(8))
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint(
            "life_event",
            "member_class",
            "member_code",
            "subsystem_code",
            "service_code",
            name=conv("uq_tellusonce_subscription_service"),
        ),
    )


class LifeEvent(Base):
    __tablename__ = "tellusonce_life_event"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    #: The registry event this came from (one life event per registry event).
    source_event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject_code: Mapped[str] = mapped_column(String(32), index=True)
    subject_name: Mapped[str] = mapped_column(String(300))
    occurred_on: Mapped[date]
    #: What the agencies are sent about the person (JSON; the message body's ``person``).
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: Who receives the letter: ``[{"code", "name", "relationship"}]`` (may be empty).
    recipients: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    #: ``informing`` until every notification is settled, then ``completed``.
    status: Mapped[str] = mapped_column(String(20), index=True)
    received_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    letters_sent: Mapped[int] = mapped_column(Integer)


class Notification(Base):
    __tablename__ = "tellusonce_notification"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    life_event_id: Mapped[int] = mapped_column(ForeignKey("tellusonce_life_event.id"))
    subscription_id: Mapped[int] = mapped_column(ForeignKey("tellusonce_subscription.id"))
    #: The ``X-Road-Id`` of every attempt: the agency's idempotency key.
    message_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    #: ``pending`` → ``acknowledged``, or ``dead_letter`` after the last attempt (an operator
    #: may replay it: ``pending`` again, same message id).
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    #: The worker delivering it now, until ``lease_expires_at`` (a dead worker lets go).
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    #: The agency's answer: ``{"outcome", "summary", "effectiveFrom", "caseReference"}``.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    dead_lettered_at: Mapped[datetime | None]
    replayed_at: Mapped[datetime | None]
    replayed_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint(
            "life_event_id",
            "subscription_id",
            name=conv("uq_tellusonce_notification_event_subscription"),
        ),
        Index("ix_tellusonce_notification_due", "status", "next_attempt_at"),
        Index("ix_tellusonce_notification_life_event", "life_event_id"),
    )
