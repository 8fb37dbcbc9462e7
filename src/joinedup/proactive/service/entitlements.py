"""Recording entitlements: what the rules decided, what the person decided, what death ended.

Every change of an entitlement is a new revision (status, amount, period, reason,
explanation, ruleset version, actor) and one ``entitlement.*.v1`` event, in the caller's
transaction. Recording the same outcome again changes nothing (no revision, no event, no
letter), so a life event handled twice has the effect of one.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, insert, select
from sqlalchemy.orm import Session, defer
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.dml import ReturningInsert

from joinedup.catalogue import CatalogueService, DeliveryMode
from joinedup.core.clock import utcnow
from joinedup.core.db import pairs_where_in, transaction_memo
from joinedup.core.events import Event, emit_many
from joinedup.core.ids import new_id
from joinedup.proactive.events import EVENT_OF_STATUS, EntitlementChanged
from joinedup.proactive.models import Entitlement, EntitlementRevision
from joinedup.proactive.payees import HOLDING
from joinedup.proactive.schemas import PERSON_DECIDED, EntitlementStatus

#: The actor of changes the platform makes reacting to a life event.
PROACTIVE_ACTOR = "proactive"
_CHUNK = 300


@dataclass(frozen=True)
class Outcome:
    """What evaluating a service for one person gave: due (``status``), not due (None), or
    not evaluated for want of consent (``AWAITING_CONSENT``)."""

    person_code: str
    service: CatalogueService
    occasion: str
    status: EntitlementStatus | None
    amount: int | None
    period_start: date
    reason: str
    explanation: dict[str, Any]
    ruleset_version: str
    life_event: str | None = None
    regarding_code: str | None = None
    event_id: uuid.UUID | None = None


@dataclass
class Change:
    """An entitlement that changed, and how (for letters and events)."""

    entitlement: Entitlement
    revision: EntitlementRevision
    previous_status: EntitlementStatus | None
    previous_amount: int | None
    service: CatalogueService | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> EntitlementStatus:
        return EntitlementStatus(self.entitlement.status)


def respond_by(row: Entitlement, service: CatalogueService | None) -> date | None:
    """The last day to accept an offer: its service's time to answer counted from the offer's
    last decision (a new decision — another amount, an offer passed on at a death — gives a
    new time). None: not an offer, or one that stands until the person decides."""
    if row.status != EntitlementStatus.OFFERED.value or service is None:
        return None
    if service.respond_within_days is None:
        return None
    return row.updated_at.date() + timedelta(days=service.respond_within_days)


def status_for(service: CatalogueService) -> EntitlementStatus:
    """The status a service's delivery mode gives someone the rules find entitled."""
    if service.delivery_mode is DeliveryMode.AUTOMATIC:
        return EntitlementStatus.GRANTED
    if service.delivery_mode is DeliveryMode.PROACTIVE_OFFER:
        return EntitlementStatus.OFFERED
    return EntitlementStatus.ELIGIBLE


def _existing(
    session: Session, keys: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str, str], Entitlement]:
    """The entitlements stored under ``keys`` (person, service, occasion).

    By ``person_code IN (…)`` (the leading column of the unique index, searched) and the
    services, the occasions then matched here. A row-value ``(person, service, occasion)
    IN (…)`` is not searched on SQLite: it scanned the whole table for every life event."""
    found: dict[tuple[str, str, str], Entitlement] = {}
    wanted = set(keys)
    persons = list(dict.fromkeys(key[0] for key in keys))
    services = sorted({key[1] for key in keys})
    for start in range(0, len(persons), _CHUNK):
        for row in session.scalars(
            select(Entitlement).where(
                Entitlement.person_code.in_(persons[start : start + _CHUNK]),
                Entitlement.service_code.in_(services),
            )
        ):
            key = (row.person_code, row.service_code, row.occasion)
            if key in wanted:
                found[key] = row
    return found


def _next_status(
    current: EntitlementStatus | None, outcome: Outcome
) -> tuple[EntitlementStatus, date | None] | None:
    """The entitlement's new status and end (None: nothing to record)."""
    wanted = outcome.status
    if current in PERSON_DECIDED:
        return None  # the person's choice stands until they change it
    if wanted is None:  # not (or no longer) due
        if current is not None and (
            current.active or current is EntitlementStatus.AWAITING_CONSENT
        ):
            return EntitlementStatus.ENDED, outcome.period_start
        return None
    if wanted is EntitlementStatus.ENDED:  # refused on application: ends (or never starts)
        return EntitlementStatus.ENDED, outcome.period_start
    if wanted is EntitlementStatus.AWAITING_CONSENT:
        if current is None or current is EntitlementStatus.ENDED:
            return EntitlementStatus.AWAITING_CONSENT, None
        return None  # what was decided with consent stands until re-evaluated with it
    if current is EntitlementStatus.GRANTED and wanted is EntitlementStatus.OFFERED:
        wanted = EntitlementStatus.GRANTED  # an offer accepted stays granted
    return wanted, None


def record_outcomes(
    session: Session,
    outcomes: Sequence[Outcome],
    *,
    actor: str = PROACTIVE_ACTOR,
    acting_for: str | None = None,
    cause: str | None = None,
) -> list[Change]:
    """Create or update the entitlements the outcomes decide; returns what changed.

    Changes ``proactive_entitlement`` and ``proactive_entitlement_revision``; emits one
    ``entitlement.<status>.v1`` (``entitlement.changed.v1`` for a new amount) per change,
    its cause ``cause`` (default: the life event). An outcome ``ENDED`` (an application the
    rules refuse) ends the entitlement from its first day, or records it ended there when
    there was none. A person's decline or opt-out stands; an unchanged outcome records
    nothing. ``acting_for``: the subject, when ``actor`` acted for them under a mandate."""
    existing: dict[tuple[str, str, str], Entitlement | _New] = dict(
        _existing(session, [(o.person_code, o.service.code, o.occasion) for o in outcomes])
    )
    now = utcnow()
    drafts: list[_Draft] = []
    for outcome in outcomes:
        key = (outcome.person_code, outcome.service.code, outcome.occasion)
        row = existing.get(key)
        current = EntitlementStatus(row.status) if row is not None else None
        decided = _next_status(current, outcome)
        if decided is None:
            continue
        status, period_end = decided
        amount = None if status is EntitlementStatus.ENDED else outcome.amount
        if status is EntitlementStatus.ENDED and row is not None:
            amount = row.amount
        if row is not None and current is status and row.amount == amount:
            continue  # nothing new
        previous_amount = row.amount if row is not None else None
        service = outcome.service
        if row is None:
            row = _New(
                uid=new_id(),
                person_code=outcome.person_code,
                service_code=service.code,
                occasion=outcome.occasion,
                owner_member_class=service.owner.member_class,
                owner_member_code=service.owner.member_code,
                delivery_mode=service.delivery_mode.value,
                revision=0,
                created_at=now,
                period_start=outcome.period_start,
            )
            existing[key] = row
        elif status.active and current is not None and not current.active:
            row.period_start = outcome.period_start  # due again after an end: a new period
        row.status = status.value
        row.amount = amount
        row.period_end = period_end
        row.life_event = outcome.life_event
        if outcome.regarding_code is not None:
            row.regarding_code = outcome.regarding_code
        row.reason = outcome.reason
        row.ruleset, row.variable = service.ruleset, service.variable
        row.ruleset_version = outcome.ruleset_version
        row.legal_basis, row.legal_basis_url = service.legal_basis, service.legal_basis_url
        row.revision += 1
        row.updated_at, row.updated_by = now, actor[:100]
        revision = _revision(
            row,
            explanation=outcome.explanation,
            actor=actor,
            event_id=outcome.event_id,
            now=now,
            acting_for=acting_for,
        )
        if current is status:
            revision["period_start"] = outcome.period_start  # the new amount's first day
        drafts.append(_Draft(row, revision, current, previous_amount, service))
    return _flush(
        session, drafts, cause_of=lambda c: cause or c.entitlement.life_event or "life_event"
    )


@dataclass(slots=True)
class _New:
    """An entitlement a batch creates, until the batch's new entitlements are written together
    (:func:`_written`): the values of its columns."""

    uid: uuid.UUID
    person_code: str
    service_code: str
    occasion: str
    owner_member_class: str
    owner_member_code: str
    delivery_mode: str
    revision: int
    created_at: datetime
    period_start: date
    status: str = ""
    amount: int | None = None
    period_end: date | None = None
    life_event: str | None = None
    regarding_code: str | None = None
    reason: str = ""
    ruleset: str = ""
    ruleset_version: str = ""
    variable: str = ""
    legal_basis: str = ""
    legal_basis_url: str | None = None
    updated_at: datetime | None = None
    updated_by: str = ""

    def values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _NEW_COLUMNS}


_NEW_COLUMNS = tuple(_New.__dataclass_fields__)


@dataclass
class _Draft:
    """A change whose revision is not written yet: the revision's values, as the entitlement
    was when it changed."""

    entitlement: Entitlement | _New
    revision: dict[str, Any]
    previous_status: EntitlementStatus | None
    previous_amount: int | None
    service: CatalogueService | None = None


def _revision(
    row: Entitlement | _New,
    *,
    explanation: dict[str, Any],
    actor: str,
    event_id: uuid.UUID | None,
    now: Any,
    acting_for: str | None = None,
) -> dict[str, Any]:
    return {
        "revision": row.revision,
        "status": row.status,
        "amount": row.amount,
        "period_start": row.period_start,
        "period_end": row.period_end,
        "reason": row.reason,
        "explanation": explanation,  # (stored with the revision only)
        "ruleset_version": row.ruleset_version,
        "actor": actor[:100],
        "acting_for": acting_for,
        "event_id": event_id,
        "recorded_at": now,
    }


@cache
def _insert_entitlements() -> ReturningInsert[Entitlement]:
    """Built once: a batch's new entitlements in one ``INSERT … RETURNING``, returned as the
    session's objects, their explanation not read back."""
    return insert(Entitlement).returning(Entitlement).options(defer(Entitlement.explanation))


def _written(session: Session, drafts: Sequence[_Draft]) -> list[Entitlement]:
    """Each draft's entitlement as the session holds it, the new ones inserted (one statement
    for the batch, not one each with its objects built attribute by attribute)."""
    new = {d.entitlement.uid: d.entitlement for d in drafts if isinstance(d.entitlement, _New)}
    created: dict[uuid.UUID, Entitlement] = {}
    if new:
        rows = session.scalars(
            _insert_entitlements(),
            [entitlement.values() for entitlement in new.values()],
            execution_options={"render_nulls": True},
        )
        created = {row.uid: row for row in rows}
    return [
        d.entitlement if isinstance(d.entitlement, Entitlement) else created[d.entitlement.uid]
        for d in drafts
    ]


@cache
def _insert_revisions() -> ReturningInsert[EntitlementRevision]:
    """Built once: a batch's revisions in one ``INSERT … RETURNING`` (the session's unit of
    work inserts them one statement each: a revision has no column to match its returned id
    by), returned as the session's objects, their explanation not read back."""
    return (
        insert(EntitlementRevision)
        .returning(EntitlementRevision)
        .options(defer(EntitlementRevision.explanation))
    )


def _flush(session: Session, drafts: Sequence[_Draft], *, cause_of: Any) -> list[Change]:
    """Write the drafts' revisions and emit their events; returns the changes."""
    if not drafts:
        return []
    transaction_memo(session, _HOLDERS_AHEAD).clear()  # who holds what may change
    session.flush()  # the entitlements changed
    rows = _written(session, drafts)  # and those created: their ids
    values = [draft.revision for draft in drafts]
    for draft, row in zip(drafts, rows, strict=True):
        draft.revision["entitlement_id"] = row.id
    written = {
        (revision.entitlement_id, revision.revision): revision
        for revision in session.scalars(
            _insert_revisions(), values, execution_options={"render_nulls": True}
        )
    }
    changes: list[Change] = []
    for draft, row in zip(drafts, rows, strict=True):
        revision = written[(row.id, draft.revision["revision"])]
        # the explanation as given (the object the outcome holds), not read back: the
        # revision's, and so the entitlement's (its current revision's)
        set_committed_value(revision, "explanation", draft.revision["explanation"])
        set_committed_value(row, "explanation", draft.revision["explanation"])
        changes.append(
            Change(
                entitlement=row,
                revision=revision,
                previous_status=draft.previous_status,
                previous_amount=draft.previous_amount,
                service=draft.service,
            )
        )
    events: list[Event] = []
    for change in changes:
        row = change.entitlement
        kind = (
            EntitlementChanged
            if change.previous_status is EntitlementStatus(row.status)
            else EVENT_OF_STATUS[row.status]
        )
        events.append(
            kind(
                entitlement_id=str(row.uid),
                service_code=row.service_code,
                owner_member_code=row.owner_member_code,
                status=row.status,
                revision=row.revision,
                amount_cents=row.amount,
                cause=str(cause_of(change)),
            )
        )
    emit_many(session, events)
    session.flush()
    return changes


def set_status(
    session: Session,
    row: Entitlement,
    *,
    status: EntitlementStatus,
    reason: str,
    actor: str,
    acting_for: str | None = None,
    period_end: date | None = None,
    event_id: uuid.UUID | None = None,
    cause: str,
) -> Change:
    """Change one entitlement's status (a person's decision, a death) as a new revision;
    emits its ``entitlement.<status>.v1`` event."""
    previous = EntitlementStatus(row.status)
    explanation = row.explanation  # the current revision's: read before the row changes
    now = utcnow()
    row.status = status.value
    if period_end is not None:
        row.period_end = period_end
    row.reason = reason
    row.revision += 1
    row.updated_at, row.updated_by = now, actor[:100]
    revision = _revision(
        row,
        explanation=explanation,  # (the decision's explanation stands)
        actor=actor,
        event_id=event_id,
        now=now,
        acting_for=acting_for,
    )
    (change,) = _flush(
        session, [_Draft(row, revision, previous, row.amount)], cause_of=lambda _: cause
    )
    return change


def active_entitlements_of(session: Session, *, person_codes: Sequence[str]) -> list[Entitlement]:
    """The entitlements of these persons that are still active (eligible, offered, granted)
    or waiting for consent."""
    wanted = [s for s in EntitlementStatus if s.active] + [EntitlementStatus.AWAITING_CONSENT]
    return entitlements_in(session, person_codes=person_codes, statuses=wanted)


def entitlement_revisions_of(session: Session, *, person_codes: Sequence[str]) -> dict[int, int]:
    """Each entitlement of these persons with its revision number: it changes whenever one
    of their entitlements is recorded, changed or ended (a caller that decided on their
    entitlements outside its write transaction tells by it whether they have changed since)."""
    return pairs_where_in(
        session, Entitlement.id, Entitlement.revision, Entitlement.person_code, person_codes
    )


def holders_of(
    session: Session, service: CatalogueService, person_codes: Sequence[str], *, occasion: str
) -> list[str]:
    """Who of ``person_codes`` holds ``service`` for ``occasion`` — an entitlement in any
    status but ended (:data:`joinedup.proactive.payees.HOLDING`) — in the order given. Answered
    from what :func:`holders_ahead` read in this transaction when it read them all."""
    codes = list(dict.fromkeys(person_codes))
    ahead = transaction_memo(session, _HOLDERS_AHEAD).get((service.code, occasion))
    if ahead is not None and all(code in ahead for code in codes):
        return [code for code in codes if ahead[code]]
    held = _held(session, service.code, occasion, codes)
    return [code for code in codes if code in held]


def holders_ahead(
    session: Session, service: CatalogueService, person_codes: Collection[str], *, occasion: str
) -> None:
    """Read who of ``person_codes`` holds ``service`` for ``occasion`` in one query (per
    :data:`_CHUNK` persons), for :func:`holders_of` to answer from for the rest of the
    transaction — until an entitlement is written in it (:func:`_flush` forgets them)."""
    codes = list(dict.fromkeys(person_codes))
    if not codes:
        return
    known = transaction_memo(session, _HOLDERS_AHEAD).setdefault((service.code, occasion), {})
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start : start + _CHUNK]
        held = _held(session, service.code, occasion, chunk)
        known.update({code: code in held for code in chunk})


def _held(session: Session, service_code: str, occasion: str, codes: list[str]) -> set[str]:
    if session.autoflush:
        session.flush()  # what the session holds counts, as an ORM query would autoflush it
    found = session.connection().execute(
        _holders(), {"codes": codes, "service": service_code, "occasion": occasion}
    )
    return {code for (code,) in found}


#: The transaction memo of what :func:`holders_ahead` read: (service code, occasion) →
#: personal code → holds it.
_HOLDERS_AHEAD = "proactive.holders_ahead"


@cache
def _holders() -> Select[str]:
    """Built once: a household benefit asks it for every household it decides for (a Core
    select: no ORM execution for a list of codes)."""
    return select(Entitlement.person_code).where(
        Entitlement.person_code.in_(bindparam("codes", expanding=True)),
        Entitlement.service_code == bindparam("service"),
        Entitlement.occasion == bindparam("occasion"),
        Entitlement.status.in_(sorted(s.value for s in HOLDING)),
    )


def entitlements_in(
    session: Session, *, person_codes: Sequence[str], statuses: Sequence[EntitlementStatus]
) -> list[Entitlement]:
    """The entitlements of these persons in one of ``statuses``, oldest first."""
    wanted = [s.value for s in statuses]
    found: list[Entitlement] = []
    codes = list(dict.fromkeys(person_codes))
    for start in range(0, len(codes), _CHUNK):
        found.extend(
            session.scalars(
                select(Entitlement)
                .where(
                    Entitlement.person_code.in_(codes[start : start + _CHUNK]),
                    Entitlement.status.in_(wanted),
                )
                .order_by(Entitlement.id)
            )
        )
    return found
