"""Tables of the digital mailbox. Nobody outside ``notify`` imports them.

- ``notify_letter``: one row per letter an agency sent a person: who sent it, to whom, what it
  says (as rendered in the recipient's language), on which channel it went, when it was
  delivered or is deemed delivered, and when (and by whom) it was first read. A letter's
  content is fixed in the transparency log when it is sent (legal delivery: the sender can
  prove what was delivered and when; see :mod:`joinedup.notify.canonical`).
- ``notify_paper_dispatch``: the paper copy of a letter to a person exempt from digital post,
  from the print queue to the post.
- ``notify_preference``: a person's delivery preferences: language, and whether they are
  exempt from digital post (then every letter goes on paper as well as to the mailbox).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.schema import ForeignKey, UniqueConstraint
from sqlalchemy.sql.naming import conv

from joinedup.core.db import Base

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class Letter(Base):
    __tablename__ = "notify_letter"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    message_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    recipient_code: Mapped[str] = mapped_column(String(32))
    sender_member_class: Mapped[str] = mapped_column(String(10))
    sender_member_code: Mapped[str] = mapped_column(String(64))
    sender_name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(300))
    paragraphs: Mapped[list[str]] = mapped_column(JSON)
    locale: Mapped[str] = mapped_column(String(8))
    #: What the letter is about, as the sender names it (``entitlement:<uuid>``), for links.
    regarding: Mapped[str | None] = mapped_column(String(200))
    #: The sender's idempotency key: one letter per sender and reference.
    reference: Mapped[str] = mapped_column(String(200))
    #: SHA-256 of the canonical bytes of the letter (see ``canonical.py``).
    content_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    #: ``mailbox`` (digital only) or ``mailbox+paper`` (the person is exempt from digital post).
    channel: Mapped[str] = mapped_column(String(20))
    sent_at: Mapped[datetime]
    sent_by: Mapped[str] = mapped_column(String(100))
    #: The day the letter counts as delivered even if never opened (legal delivery).
    deemed_delivered_on: Mapped[date | None]
    read_at: Mapped[datetime | None]
    #: Personal code of whoever first opened it: the recipient, or someone acting for them.
    read_by: Mapped[str | None] = mapped_column(String(32))
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)
    #: The read receipt's transparency-log entry (set with ``read_at``).
    receipt_log_index: Mapped[int | None] = mapped_column(BigInteger, unique=True)

    __table_args__ = (
        # named: the convention's name would pass PostgreSQL's 63-character limit
        UniqueConstraint(
            "sender_member_class",
            "sender_member_code",
            "reference",
            name=conv("uq_notify_letter_sender_reference"),
        ),
        Index("ix_notify_letter_recipient", "recipient_code", "id"),
    )


class PaperDispatch(Base):
    __tablename__ = "notify_paper_dispatch"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("notify_letter.id"), unique=True)
    #: ``queued`` → ``posted``; ``undeliverable`` when the person has no postal address.
    status: Mapped[str] = mapped_column(String(20), index=True)
    queued_at: Mapped[datetime]
    posted_at: Mapped[datetime | None]
    #: The print provider's reference of the printed letter (a file name when embedded).
    print_reference: Mapped[str | None] = mapped_column(String(300))
    problem: Mapped[str | None] = mapped_column(String(300))


class DeliveryPreference(Base):
    __tablename__ = "notify_preference"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_code: Mapped[str] = mapped_column(String(32), unique=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    digital_exempt: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Why the person is exempt (e.g. "no internet access", "decided by the municipality").
    exempt_reason: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))
