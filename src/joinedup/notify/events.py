"""Events of the digital mailbox. Payloads name letters, not people or contents."""

from __future__ import annotations

import dataclasses

from joinedup.core.events import Event


@dataclasses.dataclass(frozen=True, kw_only=True)
class LetterSent(Event):
    name = "notify.letter_sent.v1"

    message_id: str
    sender_member_code: str
    kind: str
    channel: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class LetterRead(Event):
    """A letter was opened for the first time (the read receipt)."""

    name = "notify.letter_read.v1"

    message_id: str
    sender_member_code: str
    by_recipient: bool  # False: someone acting for the recipient opened it


@dataclasses.dataclass(frozen=True, kw_only=True)
class LetterPosted(Event):
    """The paper copy of a letter left for the post."""

    name = "notify.letter_posted.v1"

    message_id: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeliveryPreferenceChanged(Event):
    name = "notify.preference_changed.v1"

    digital_exempt: bool
