"""What the digital mailbox answers: read models and the API's request bodies."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

from pydantic import BaseModel, ConfigDict, Field

#: Letters are short documents, not attachments: bounds that keep one row reasonable.
MAX_PARAGRAPHS = 60
MAX_PARAGRAPH = 4000
MAX_SUBJECT = 300
MAX_REFERENCE = 200


class LetterKind(StrEnum):
    """What a letter is, which the mailbox shows and sorts by."""

    DECISION = "decision"  # a decision with a right of appeal
    OFFER = "offer"  # something the person may accept or decline
    INFORMATION = "information"  # telling, nothing to do


class Channel(StrEnum):
    MAILBOX = "mailbox"
    MAILBOX_AND_PAPER = "mailbox+paper"


@dataclass(frozen=True)
class NewLetter:
    """One letter to send (the bulk use case takes many)."""

    recipient_code: str
    sender: str  # "CLASS/MEMBER_CODE" of the sending agency
    kind: str
    subject: str
    paragraphs: Sequence[str]
    reference: str
    regarding: str | None = None
    #: The language the letter is written in (default: the recipient's preferred language).
    locale: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


class LetterRecord(BaseModel):
    """A sent letter as its sender sees it: where it went and whether it arrived."""

    model_config = ConfigDict(frozen=True)

    message_id: uuid.UUID
    recipient_code: str
    sender_member_class: str
    sender_member_code: str
    sender_name: str
    kind: LetterKind
    subject: str
    reference: str
    regarding: str | None
    locale: str
    channel: Channel
    sent_at: datetime
    deemed_delivered_on: date | None
    read_at: datetime | None
    log_index: int
    #: True when this reference had already been sent (nothing new was written).
    replayed: bool = False


class MailboxLetter(NamedTuple):
    """A letter as the portal's mailbox lists it (a tuple: a page of them is cheap to make)."""

    message_id: uuid.UUID
    subject: str
    read: bool
    kind: str  # a LetterKind's value
    sender_name: str
    sent_at: datetime


@dataclass(frozen=True)
class MailboxPage:
    """One keyset page of a person's mailbox, and how many of all their letters are unread."""

    letters: list[MailboxLetter]
    next_cursor: str | None
    unread: int


class LetterSummary(BaseModel):
    """A letter in a mailbox list."""

    model_config = ConfigDict(frozen=True)

    message_id: uuid.UUID
    sender_name: str
    kind: LetterKind
    subject: str
    sent_at: datetime
    read: bool
    regarding: str | None


class LetterDetail(BaseModel):
    """A letter as the person reads it, with what proves its delivery."""

    model_config = ConfigDict(frozen=True)

    message_id: uuid.UUID
    recipient_code: str
    sender_member_class: str
    sender_member_code: str
    sender_name: str
    kind: LetterKind
    subject: str
    paragraphs: list[str]
    locale: str
    regarding: str | None
    channel: Channel
    sent_at: datetime
    deemed_delivered_on: date | None
    read_at: datetime | None
    read_by: str | None
    paper_status: str | None
    log_index: int
    content_hash: str  # hex SHA-256 of the canonical bytes


class PreferenceRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    person_code: str
    locale: str
    digital_exempt: bool
    exempt_reason: str | None


class PaperDispatchRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: uuid.UUID
    status: str
    queued_at: datetime
    posted_at: datetime | None
    print_reference: str | None
    problem: str | None


class SendLetterBody(BaseModel):
    """``POST /api/v1/notify/letters``: an agency sends a letter to a person's mailbox."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    recipient_code: str = Field(
        alias="recipientCode", min_length=1, max_length=32, description="Personal code."
    )
    kind: LetterKind
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    paragraphs: list[str] = Field(min_length=1, max_length=MAX_PARAGRAPHS)
    reference: str = Field(
        min_length=1,
        max_length=MAX_REFERENCE,
        description="Your idempotency key: the same reference is the same letter.",
    )
    regarding: str | None = Field(None, max_length=200)
    locale: str | None = Field(
        None, description="Language of the letter; default: the recipient's preferred one."
    )
