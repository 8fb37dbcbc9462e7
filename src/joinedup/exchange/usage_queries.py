"""Reading data-usage records: what the person sees of them, and their check against the log.

The Data Tracker query (:func:`find_usage`: offset pages and a total, and
:func:`usage_period`), the portal's keyset pages (:func:`list_usage`) and the members that
received the person's data (:func:`usage_receivers`); one record (:func:`get_usage`), its
inclusion proof (:func:`proofs_for`) and its check against the transparency log
(:func:`verify_usage`). Every read leaves out the records still hidden on the day asked
(``hidden_until``). The records and their making: :mod:`joinedup.exchange.usage`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
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

from joinedup.core.clock import today
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.keys import VerifyingKey, load_log_signing_key
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
from joinedup.exchange.records import DataUsageRecord
from joinedup.exchange.usage import UsageItem, item_rows


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
        item_rows()
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
    statement = item_rows().where(
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
            item_rows().where(
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
