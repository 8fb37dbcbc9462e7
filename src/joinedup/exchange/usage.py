"""Data usage: who received a person's data, when, which fields, why, on whose behalf.

Every mediated read that returns a person's data leaves one record per data subject (the
mediation layer builds them with :func:`usage_records`; the recorder commits them with the
call); a staff member viewing a person in the back office leaves one through
:func:`record_staff_view`. Each record is appended to the transparency log, so the person can
check it is there (an inclusion proof against a signed tree head) and a record removed or
rewritten later is detected. What the person reads of the records, and the check:
:mod:`joinedup.exchange.usage_queries`.

**Law enforcement.** A record made under a law-enforcement right carries ``hidden_until``
(the disclosure date): it exists and is logged at once, but the person's views leave it out
until that date. ``hidden_until`` is part of the record's canonical bytes, so the hiding is
itself fixed in the transparency log: it cannot be added, lengthened or removed silently.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache, cached_property
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import ValidationFailed
from joinedup.core.ids import new_id, new_salt
from joinedup.core.keys import SigningKey, load_log_signing_key
from joinedup.core.settings import get_settings
from joinedup.exchange.canonical import USAGE_TAG, UsageTemplate, usage_canonical, usage_leaf
from joinedup.exchange.recorder import Recording, write_recordings
from joinedup.exchange.records import DataUsageRecord

CHANNEL_EXCHANGE = "exchange"
CHANNEL_BACKOFFICE = "backoffice"
BACKOFFICE_SYSTEM = "back office"


@dataclass(frozen=True)
class Receiver:
    """Who received the data: a member (and its system), as named when it happened."""

    member_class: str
    member_code: str
    member_name: str
    system: str


def usage_records(
    *,
    logged_at: datetime,
    subjects: Sequence[str],
    channel: str,
    receiver: Receiver,
    service_xroad_id: str | None,
    action: str,
    fields: Sequence[str],
    purpose: str,
    legal_basis: str,
    case_reference: str | None,
    user_id: str | None,
    represented_party: str | None,
    message_id: str | None,
    law_enforcement: bool,
    hidden_until: date | None,
) -> list[tuple[dict[str, Any], bytes]]:
    """One data-usage row per distinct subject, with its log leaf input. Pure: writes nothing."""
    common: dict[str, Any] = {
        "logged_at": logged_at,
        "channel": channel,
        "receiver_member_class": receiver.member_class,
        "receiver_member_code": receiver.member_code,
        "receiver_member_name": receiver.member_name[:300],
        "receiver_system": receiver.system[:300],
        "service_xroad_id": service_xroad_id,
        "action": action[:500],
        "fields": ",".join(fields),
        "purpose": purpose[:100],
        "legal_basis": legal_basis[:300],
        "case_reference": case_reference[:300] if case_reference else None,
        "user_id": user_id[:64] if user_id else None,
        "represented_party": represented_party[:300] if represented_party else None,
        "message_id": message_id[:128] if message_id else None,
        "law_enforcement": law_enforcement,
        "hidden_until": hidden_until,
    }
    # the records of one call differ in three values: with several, their text is written
    # once (a bulk read leaves one record per person, so this runs for every person of a
    # population); one record (a person's own read) is written directly, as the template would
    distinct = list(dict.fromkeys(subjects))
    canonical = (
        UsageTemplate(common).canonical
        if len(distinct) > 1
        else lambda record_id, salt, subject: usage_canonical(
            {"record_id": record_id, "salt": salt, "subject_code": subject, **common}
        )
    )
    sha256 = hashlib.sha256
    found: list[tuple[dict[str, Any], bytes]] = []
    for subject in distinct:
        record_id = new_id()
        salt = new_salt()
        row = {"record_id": record_id, "salt": salt, "subject_code": subject, **common}
        digest = sha256(canonical(record_id, salt, subject)).digest()
        found.append((row, USAGE_TAG + record_id.bytes + digest))
    return found


def record_staff_view(
    session: Session,
    *,
    staff_member: str,
    staff_user: str,
    person_code: str,
    fields: Sequence[str],
    purpose: str,
    legal_basis: str,
    case_reference: str | None,
    log_signer: SigningKey | None = None,
) -> UsageItem:
    """Record that ``staff_user`` of ``staff_member`` (``CLASS/CODE`` or
    ``INSTANCE/CLASS/CODE``) viewed ``fields`` of the person ``person_code`` in a back-office
    page, for ``purpose`` under ``legal_basis``.

    Changes: one ``exchange_data_usage`` row and its transparency-log entry (one batch, one
    signed tree head) in the caller's transaction. ``log_signer`` defaults to the configured
    log key. Emits no event.
    """
    from joinedup.exchange import get_member  # the context's public name (no import cycle)

    problems = []
    if not person_code.strip():
        problems.append("person_code is required")
    if not purpose.strip() or not legal_basis.strip():
        problems.append("a staff view needs a purpose and its legal basis")
    if not fields:
        problems.append("name the fields that were shown")
    if not staff_user.strip():
        problems.append("staff_user is required")
    parts = staff_member.split("/")
    if len(parts) not in (2, 3):
        problems.append("staff_member must be CLASS/CODE or INSTANCE/CLASS/CODE")
    if problems:
        raise ValidationFailed("; ".join(problems), errors=problems)
    member = get_member(session, member_class=parts[-2], member_code=parts[-1])
    rows = usage_records(
        logged_at=utcnow(),
        subjects=[person_code],
        channel=CHANNEL_BACKOFFICE,
        receiver=Receiver(
            member.member_class.value, member.member_code, member.name, BACKOFFICE_SYSTEM
        ),
        service_xroad_id=None,
        action=f"Viewed in the back office: {purpose}",
        fields=fields,
        purpose=purpose,
        legal_basis=legal_basis,
        case_reference=case_reference,
        user_id=staff_user,
        represented_party=None,
        message_id=None,
        law_enforcement=False,
        hidden_until=None,
    )
    signer = log_signer or load_log_signing_key(get_settings())
    recording = Recording(usages=[row for row, _ in rows], usage_leaves=[leaf for _, leaf in rows])
    write_recordings(session, [recording], signer=signer)
    stored = (
        session.execute(item_rows().where(DataUsageRecord.record_id == rows[0][0]["record_id"]))
        .mappings()
        .one()
    )
    return UsageItem.of(stored)


@dataclass(frozen=True)
class UsageItem:
    """A data-usage record as the person sees it, with its canonical bytes."""

    id: int
    record_id: uuid.UUID
    logged_at: datetime
    subject_code: str
    channel: str
    receiver: Receiver
    service_xroad_id: str | None
    action: str
    fields: tuple[str, ...]
    purpose: str
    legal_basis: str
    case_reference: str | None
    user_id: str | None
    represented_party: str | None
    message_id: str | None
    law_enforcement: bool
    hidden_until: date | None
    log_index: int
    #: The stored row's columns, from which its canonical bytes are written.
    stored: Mapping[Any, Any] = field(repr=False, compare=False)

    @cached_property
    def canonical(self) -> bytes:
        """The record's canonical bytes (written when asked: a list of records shows none)."""
        return usage_canonical(self.stored)

    @cached_property
    def leaf_input(self) -> bytes:
        """The transparency-log entry committing to the record."""
        return usage_leaf(self.stored, self.canonical)

    @classmethod
    def of(cls, values: Mapping[Any, Any]) -> UsageItem:
        """The item of a stored record, its row as :func:`item_rows` reads it (no ORM object)."""
        return cls(
            id=values["id"],
            record_id=values["record_id"],
            logged_at=values["logged_at"],
            subject_code=values["subject_code"],
            channel=values["channel"],
            receiver=Receiver(
                values["receiver_member_class"],
                values["receiver_member_code"],
                values["receiver_member_name"],
                values["receiver_system"] or "",
            ),
            service_xroad_id=values["service_xroad_id"],
            action=values["action"],
            fields=tuple(filter(None, values["fields"].split(","))),
            purpose=values["purpose"],
            legal_basis=values["legal_basis"],
            case_reference=values["case_reference"],
            user_id=values["user_id"],
            represented_party=values["represented_party"],
            message_id=values["message_id"],
            law_enforcement=values["law_enforcement"],
            hidden_until=values["hidden_until"],
            log_index=values["log_index"],
            stored=values,
        )


@cache
def item_rows() -> Select[Any]:
    """Every column of the data-usage records, as rows (a list reads no ORM objects)."""
    return select(*DataUsageRecord.__table__.columns)
