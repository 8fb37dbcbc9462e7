"""The digital mailbox (``notify``): one mailbox for every agency at every level, digital by
default with paper for those exempt, legal delivery with read receipts.

Public names other contexts use: the use cases (:mod:`joinedup.notify.service`), the read
models (:mod:`joinedup.notify.schemas`) and the events (:mod:`joinedup.notify.events`).
Letters are written by the sending context in the recipient's language
(:func:`preferred_locale`); the mailbox stores, delivers and proves them.
"""

from joinedup.notify.events import DeliveryPreferenceChanged, LetterPosted, LetterRead, LetterSent
from joinedup.notify.schemas import (
    Channel,
    LetterDetail,
    LetterKind,
    LetterRecord,
    LetterSummary,
    MailboxLetter,
    MailboxPage,
    NewLetter,
    PaperDispatchRecord,
    PreferenceRecord,
)
from joinedup.notify.service import *  # noqa: F403 (the use cases are the public names)
from joinedup.notify.service import __all__ as _service_names

__all__ = [
    "Channel",
    "DeliveryPreferenceChanged",
    "LetterDetail",
    "LetterKind",
    "LetterPosted",
    "LetterRead",
    "LetterRecord",
    "LetterSent",
    "LetterSummary",
    "MailboxLetter",
    "MailboxPage",
    "NewLetter",
    "PaperDispatchRecord",
    "PreferenceRecord",
    *_service_names,
]
