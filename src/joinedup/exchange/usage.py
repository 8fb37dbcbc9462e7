"""Data usage: who received a person's data, when, which fields, why, on whose behalf.

Every mediated read that returns a person's data leaves one record per data subject (the
mediation layer builds them with :func:`usage_records`; the recorder commits them with the
call); a staff member viewing a person in the back office leaves one through
:func:`record_staff_view`. Each record is appended to the transparency log, so the person can
check it is there (an inclusion proof against a signed tree head) and a record removed or
rewritten later is detected.

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
from datetime import UTC, date, datetime
from functools import cache, cached_property, lru_cache
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    ScalarSelect,
    Select,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.ids import new_id, new_salt
from joinedup.core.keys import SigningKey, VerifyingKey, load_log_signing_key
from joinedup.core.pagination import Page, PageRequest, encode_cursor, page_after
from joinedup.core.settings import get_settings
from joinedup.core.translog import (
    InclusionProof,
    inclusion_proof,
    latest_tree_head,
    leaf_hash,
    verify_inclusion,
)
from joinedup.core.translog.models import LogEntry
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
        session.execute(_rows().where(DataUsageRecord.record_id == rows[0][0]["record_id"]))
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
        """The item of a stored record, its row as :func:`_rows` reads it (no ORM object)."""
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
def _rows() -> Select[Any]:
    """Every column of the data-usage records, as rows (a list reads no ORM objects)."""
    return select(*DataUsageRecord.__table__.columns)


def _visible(
    on: date | ColumnElement[date], hidden_until: Any = DataUsageRecord.hidden_until
) -> ColumnElement[bool]:
    """Records shown on ``on`` (``hidden_until``: the column, of an alias too)."""
    return or_(hidden_until.is_(None), hidden_until <= on)


def _check_period(since: datetime | None, until: datetime | None) -> None:
    if since is not None and until is not None and since > until:
        raise ValidationFailed("the period's start is after its end", parameter="periodStart")


def _period(since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    _check_period(since, until)
    clauses = []
    if since is not None:
        clauses.append(DataUsageRecord.logged_at >= since)
    if until is not None:
        clauses.append(DataUsageRecord.logged_at <= until)
    return clauses


def find_usage(
    session: Session,
    *,
    subject_code: str,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 1000,
    on: date | None = None,
) -> tuple[int, list[UsageItem]]:
    """The Data Tracker query: the person's visible records in the period, newest first,
    as ``(total, page)`` (``offset``/``limit`` as the contract defines them)."""
    if offset < 0:
        raise ValidationFailed("offset must not be negative", parameter="offset")
    if not 1 <= limit <= 1000:
        raise ValidationFailed("limit must be between 1 and 1000", parameter="limit")
    where = and_(
        DataUsageRecord.subject_code == subject_code,
        _visible(on or today()),
        *_period(since, until),
    )
    total = int(session.scalar(select(func.count()).select_from(DataUsageRecord).where(where)) or 0)
    rows = session.execute(
        _rows()
        .where(where)
        .order_by(DataUsageRecord.logged_at.desc(), DataUsageRecord.id.desc())
        .offset(offset)
        .limit(limit)
    ).mappings()
    return total, [UsageItem.of(row) for row in rows]


def usage_period(session: Session) -> datetime | None:
    """Since when records are kept (the oldest record's time; ``None`` while there is none)."""
    return session.scalar(select(func.min(DataUsageRecord.logged_at)))


def list_usage(
    session: Session,
    *,
    subject_code: str,
    request: PageRequest,
    since: datetime | None = None,
    until: datetime | None = None,
    member_code: str | None = None,
    on: date | None = None,
) -> Page[UsageItem]:
    """The person's visible records, newest first (by the time logged, then id; keyset
    pages, the cursors and answers of :func:`~joinedup.core.pagination.keyset_page`),
    optionally of one receiving member and period."""
    _check_period(since, until)
    after = page_after(request, _page_keys())
    values: dict[str, Any] = {
        "subject": subject_code,
        "on": on or today(),
        "since": since,
        "until": until,
        "member": member_code,
        "limit": request.limit + 1,
    }
    if after is not None:
        values["after_at"], values["after_id"] = after
    statement = _page_statement(
        since is not None, until is not None, member_code is not None, after is not None
    )
    rows = session.execute(statement, values).mappings().all()
    cursor = None
    if len(rows) > request.limit:
        rows = rows[: request.limit]
        cursor = encode_cursor([rows[-1]["logged_at"], rows[-1]["id"]])
    return Page[UsageItem](items=[UsageItem.of(row) for row in rows], next_cursor=cursor)


@lru_cache(maxsize=16)  # a shape: with or without each end of the period, a member, a cursor
def _page_statement(since: bool, until: bool, member: bool, after: bool) -> Select[Any]:
    """Built once per shape: a page of the ``subject``'s records visible ``on``, newest first
    in the order of the person's index (subject, logged at, id), so a page reads its ``limit``
    rows and stops however many records the person has; after the cursor's ``after_at`` and
    ``after_id`` when ``after``."""
    usage = cast(Table, DataUsageRecord.__table__)  # Core columns: no ORM result set-up
    logged_at, record = _page_keys()
    statement = _rows().where(
        usage.c.subject_code == bindparam("subject"),
        _visible(bindparam("on", type_=Date()), usage.c.hidden_until),
    )
    if since:
        statement = statement.where(logged_at >= bindparam("since"))
    if until:
        statement = statement.where(logged_at <= bindparam("until"))
    if member:
        statement = statement.where(usage.c.receiver_member_code == bindparam("member"))
    if after:
        at: BindParameter[datetime] = bindparam("after_at")
        statement = statement.where(
            or_(logged_at < at, and_(logged_at == at, record < bindparam("after_id")))
        )
    return statement.order_by(logged_at.desc(), record.desc()).limit(bindparam("limit"))


@cache
def _page_keys() -> tuple[ColumnElement[Any], ...]:
    """The order of a page of records (and the values its cursor holds): time logged, id."""
    usage = cast(Table, DataUsageRecord.__table__)
    return usage.c.logged_at, usage.c.id


def proofs_for(session: Session, items: Sequence[UsageItem]) -> dict[int, InclusionProof]:
    """Each item's inclusion proof against the latest signed tree head (one head for all)."""
    head = latest_tree_head(session)
    if head is None:
        return {}
    return {
        item.id: inclusion_proof(session, index=item.log_index, tree_size=head.tree_size)
        for item in items
        if item.log_index < head.tree_size
    }


def get_usage(
    session: Session, *, usage_id: int, subject_code: str, on: date | None = None
) -> UsageItem:
    """One of the person's visible records. Another person's record, a hidden one and one
    that does not exist are all ``NotFound`` (record ids are easy to guess)."""
    row = (
        session.execute(
            _rows().where(
                DataUsageRecord.id == usage_id,
                DataUsageRecord.subject_code == subject_code,
                _visible(on or today()),
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound("there is no such data-usage record of this person")
    return UsageItem.of(row)


@dataclass(frozen=True)
class UsageVerification:
    """The checks of one record against the transparency log, each true or false.

    ``matches_log``: the record as stored, recomputed into its leaf, is the log entry at its
    index (it was not rewritten). ``included``: the inclusion proof from that leaf leads to
    the root of the signed tree head. ``signature_valid``: the log's key signed that tree
    head."""

    item: UsageItem
    leaf_hash: bytes
    tree_size: int | None
    root_hash: bytes | None
    signed_at: datetime | None
    key_id: str | None
    path_length: int
    matches_log: bool
    included: bool
    signature_valid: bool

    @property
    def verified(self) -> bool:
        return self.matches_log and self.included and self.signature_valid


def verify_usage(
    session: Session,
    *,
    usage_id: int,
    subject_code: str,
    verifying_key: VerifyingKey | None = None,
) -> UsageVerification:
    """Check the person's record ``usage_id`` against the latest signed tree head: recompute
    its leaf from the stored row, verify the inclusion proof to the tree head's root and the
    tree head's signature (``verifying_key`` defaults to the configured log key's). Reads only;
    ``NotFound`` as :func:`get_usage`."""
    item = get_usage(session, usage_id=usage_id, subject_code=subject_code)
    key = verifying_key or load_log_signing_key(get_settings()).verifying_key
    computed = leaf_hash(item.leaf_input)
    stored = session.scalar(select(LogEntry.leaf_input).where(LogEntry.index == item.log_index))
    head = latest_tree_head(session)
    if head is None or item.log_index >= head.tree_size:
        return UsageVerification(
            item=item, leaf_hash=computed, tree_size=None, root_hash=None, signed_at=None,
            key_id=None, path_length=0, matches_log=stored == item.leaf_input, included=False,
            signature_valid=False,
        )  # fmt: skip
    proof = inclusion_proof(session, index=item.log_index, tree_size=head.tree_size)
    return UsageVerification(
        item=item,
        leaf_hash=computed,
        tree_size=head.tree_size,
        root_hash=head.root_hash,
        signed_at=datetime.fromtimestamp(head.timestamp_ms / 1000, tz=UTC),
        key_id=head.key_id,
        path_length=len(proof.path),
        matches_log=stored is not None and bytes(stored) == item.leaf_input,
        included=verify_inclusion(
            computed, item.log_index, head.tree_size, proof.path, head.root_hash
        ),
        signature_valid=head.verify(key),
    )


def usage_receivers(
    session: Session, *, subject_code: str, on: date | None = None
) -> list[tuple[str, str]]:
    """``(member code, name)`` of every member that received the person's data (visible
    records), by name: the choices of a filter. A skip scan of the index (subject, receiver,
    hidden until): one step per receiver, however many records the person has."""
    rows = session.execute(_receivers_statement(), {"subject": subject_code, "on": on or today()})
    return sorted(((code, name or code) for code, name in rows), key=lambda row: row[1])


@cache
def _receivers_statement() -> Select[Any]:
    """Built once: the receivers of the ``subject``'s visible records on ``on``, each found
    as the first visible receiver code after the one before (a recursive query)."""
    usage = cast(Table, DataUsageRecord.__table__)
    subject: BindParameter[str] = bindparam("subject")
    on: BindParameter[date] = bindparam("on", type_=Date())

    def first_after(after: ColumnElement[Any] | None) -> ScalarSelect[Any]:
        found = usage.alias()
        statement = select(found.c.receiver_member_code).where(
            found.c.subject_code == subject, _visible(on, found.c.hidden_until)
        )
        if after is not None:
            statement = statement.where(found.c.receiver_member_code > after)
        return statement.order_by(found.c.receiver_member_code).limit(1).scalar_subquery()

    receivers = select(first_after(None).label("code")).cte("receivers", recursive=True)
    receivers = receivers.union_all(
        select(first_after(receivers.c.code)).where(receivers.c.code.is_not(None))
    )
    named = usage.alias()
    name = (
        select(named.c.receiver_member_name)
        .where(
            named.c.subject_code == subject,
            named.c.receiver_member_code == receivers.c.code,
            _visible(on, named.c.hidden_until),
            named.c.receiver_member_name != "",
        )
        .limit(1)
        .scalar_subquery()
    )  # members are never renamed: any of the receiver's visible records names it
    return select(receivers.c.code, name).where(receivers.c.code.is_not(None))
