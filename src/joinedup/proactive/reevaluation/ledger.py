"""Comparing what the law in force gives with the stored entitlements, and storing only the
differences, in bulk.

The decision per person and service is the proactive services' own (a person's decline or
opt-out stands; not due any more ends an active entitlement; due again after an end starts a
new period; an accepted offer stays granted): see :func:`next_status`. Only the rows that
change are written — the entitlement updated (or created), one revision appended, one
``entitlement.*`` event — as multi-row statements, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property, lru_cache
from typing import Any, cast

from sqlalchemy import Dialect, Table, bindparam, select
from sqlalchemy.orm import Session

from joinedup.core.bulk_writes import (
    insert_rows,
    insert_rows_sharing,
    parameter_marker,
    update_rows,
)
from joinedup.core.events import Event, emit_many
from joinedup.core.ids import new_id
from joinedup.proactive.events import EVENT_OF_STATUS, EntitlementChanged
from joinedup.proactive.models import Entitlement, EntitlementRevision

ACTIVE = frozenset({"eligible", "offered", "granted"})
PERSON_DECIDED = frozenset({"declined", "opted_out"})
_ENTITLEMENTS = cast(Table, Entitlement.__table__)
_REVISIONS = cast(Table, EntitlementRevision.__table__)
_LOOKUP = 5_000
#: The ``cause`` of the ``entitlement.*`` events of a re-evaluation.
CAUSE = "law_change"
#: The columns a change updates: per row, then shared by the rows of one call.
_UPDATED = (
    "status",
    "amount",
    "period_start",
    "period_end",
    "revision",
    "reason",
    "ruleset_version",
    "updated_at",
    "updated_by",
)


@dataclass(frozen=True)
class ServiceSpec:
    """A catalogued service as re-evaluation needs it."""

    code: str
    names: dict[str, str]  # by locale; English is required
    owner_member_class: str
    owner_member_code: str
    owner_subsystem: str
    delivery_mode: str
    ruleset: str
    variable: str
    purpose: str
    legal_basis: str
    legal_basis_url: str | None
    #: An offer's days to be accepted before it lapses (None: no limit; runs planned before
    #: the field existed have none).
    respond_within_days: int | None = None

    @property
    def due_status(self) -> str:
        if self.delivery_mode == "automatic":
            return "granted"
        if self.delivery_mode == "proactive_offer":
            return "offered"
        return "eligible"


@dataclass(frozen=True)
class Stored:
    """An entitlement as stored."""

    id: int
    uid: uuid.UUID
    status: str
    amount: int | None
    revision: int
    period_start: date
    updated_at: datetime


@dataclass(frozen=True)
class Revision:
    """One entitlement changed by the new law."""

    person_code: str
    service: ServiceSpec
    entitlement_uid: uuid.UUID
    revision: int
    status: str
    amount: int | None
    previous_status: str | None
    previous_amount: int | None

    @cached_property  # asked for by the revision's row and by its letter
    def letter_reference(self) -> str:
        """The decision letter's reference: the entitlement's revision, as the proactive
        services write it (sending it again is a replay)."""
        return f"entitlement:{self.entitlement_uid}:r{self.revision}"


def next_status(current: str | None, due: str | None) -> str | None:
    """The new status (None: nothing to record) — the proactive services' rule."""
    if current in PERSON_DECIDED or current == "awaiting_consent":
        return None
    if due is None:
        return "ended" if current in ACTIVE else None
    if current == "granted" and due == "offered":
        return "granted"
    return due


def stored_entitlements(
    session: Session,
    *,
    person_codes: Sequence[str],
    services: Sequence[str],
    lock: bool = True,
) -> dict[tuple[str, str], Stored]:
    """The continuing entitlements (no occasion) of these persons for these services, locked
    until the caller's transaction ends (PostgreSQL; SQLite's writer holds the database)
    unless ``lock`` is false (read only to know who holds what)."""
    found: dict[tuple[str, str], Stored] = {}
    codes = list(dict.fromkeys(person_codes))
    session.flush()  # what the session holds first (as the session's own queries would)
    connection = session.connection()
    dialect = connection.dialect
    marker = parameter_marker(dialect)
    if marker is None:  # another driver's parameter style: let SQLAlchemy bind
        e = _ENTITLEMENTS.c
        query = select(*(e[name] for name in _STORED)).where(
            e.person_code.in_(bindparam("codes", expanding=True)),
            e.service_code.in_(list(services)),
            e.occasion == "",
        )
        if lock:  # as below
            query = query.with_for_update()
        for start in range(0, len(codes), _LOOKUP):
            for row in connection.execute(query, {"codes": codes[start : start + _LOOKUP]}):
                found[(row[0], row[1])] = Stored(*row[2:])
        return found
    # at the driver: SQLAlchemy's expansion of thousands of codes into the statement and its
    # handling of the rows cost more than SQLite's reading them (a chunk reads 50,000 codes)
    uid, period_start, updated_at = _stored_processors(dialect)
    wanted = tuple(services)
    for start in range(0, len(codes), _LOOKUP):
        part = codes[start : start + _LOOKUP]
        sql = _stored_sql(dialect, marker, len(part), len(wanted), lock)
        for (
            person,
            service,
            id_,
            uid_,
            status,
            amount,
            revision,
            start_,
            at,
        ) in connection.exec_driver_sql(sql, (*part, *wanted, "")):
            found[(person, service)] = Stored(
                id_,
                uid(uid_) if uid is not None else uid_,
                status,
                amount,
                revision,
                period_start(start_) if period_start is not None else start_,
                updated_at(at) if updated_at is not None else at,
            )
    return found


#: The columns :func:`stored_entitlements` reads, in order.
_STORED = (
    "person_code",
    "service_code",
    "id",
    "uid",
    "status",
    "amount",
    "revision",
    "period_start",
    "updated_at",
)


@lru_cache(maxsize=16)
def _stored_processors(dialect: Dialect) -> tuple[Any, Any, Any]:
    """The result processors of ``uid``, ``period_start`` and ``updated_at`` (None: as read)."""
    c = _ENTITLEMENTS.c
    return tuple(  # type: ignore[return-value]
        c[name].type._cached_result_processor(dialect, None)
        for name in ("uid", "period_start", "updated_at")
    )


@lru_cache(maxsize=64)
def _stored_sql(dialect: Dialect, marker: str, codes: int, services: int, lock: bool) -> str:
    quote = dialect.identifier_preparer.quote
    # FOR UPDATE where the dialect has it (PostgreSQL; SQLite's writer holds the database): a
    # life event's consumer changing one meanwhile waits for the chunk
    locking = select(_ENTITLEMENTS.c.id).with_for_update().compile(dialect=dialect)
    suffix = " FOR UPDATE" if lock and "FOR UPDATE" in str(locking) else ""
    return (
        f"SELECT {', '.join(quote(name) for name in _STORED)} "  # noqa: S608 (our names)
        f"FROM {quote(_ENTITLEMENTS.name)} "
        f"WHERE {quote('person_code')} IN ({', '.join(marker for _ in range(codes))}) "
        f"AND {quote('service_code')} IN ({', '.join(marker for _ in range(services))}) "
        f"AND {quote('occasion')} = {marker}{suffix}"
    )


def store_revisions(
    session: Session,
    *,
    decided: Sequence[tuple[str, ServiceSpec, bool, int | None]],
    stored: dict[tuple[str, str], Stored],
    effective_from: date,
    ruleset_version: str,
    reason: str,
    explanation: dict[str, Any],
    actor: str,
    now: datetime,
) -> list[Revision]:
    """Store what changed: ``decided`` is (person code, service, due, amount) for every person
    who is due something or holds an entitlement. Returns the changes."""
    inserts: list[dict[str, Any]] = []
    updates: list[tuple[Any, ...]] = []  # the first values of _UPDATED, then the id
    revisions: list[Revision] = []
    revision_rows: list[tuple[Any, ...]] = []
    pending_new: list[tuple[dict[str, Any], tuple[Any, ...]]] = []
    for code, service, is_due, amount in decided:
        row = stored.get((code, service.code))
        current = row.status if row is not None else None
        due = service.due_status if is_due else None
        status = next_status(current, due)
        if status is None:
            continue
        new_amount = row.amount if status == "ended" and row is not None else amount
        if row is not None and current == status and row.amount == new_amount:
            continue
        period_end = effective_from if status == "ended" else None
        if row is None:
            values = {
                "uid": new_id(),
                "person_code": code,
                "service_code": service.code,
                "occasion": "",
                "owner_member_class": service.owner_member_class,
                "owner_member_code": service.owner_member_code,
                "delivery_mode": service.delivery_mode,
                "status": status,
                "amount": new_amount,
                "period_start": effective_from,
                "period_end": None,
                "life_event": None,
                "regarding_code": None,
                "reason": reason,
                "ruleset": service.ruleset,
                "ruleset_version": ruleset_version,
                "variable": service.variable,
                "legal_basis": service.legal_basis,
                "legal_basis_url": service.legal_basis_url,
                "revision": 1,
                "created_at": now,
                "updated_at": now,
                "updated_by": actor,
            }
            inserts.append(values)
            pending_new.append((values, (1, status, new_amount, effective_from, None)))
            uid = cast(uuid.UUID, values["uid"])
            number = 1
        else:
            period_start = (
                effective_from if status in ACTIVE and current not in ACTIVE else row.period_start
            )
            updates.append((status, new_amount, period_start, period_end, row.revision + 1, row.id))
            revision_rows.append(
                (row.id, row.revision + 1, status, new_amount, period_start, period_end)
            )
            uid = row.uid
            number = row.revision + 1
        revisions.append(
            Revision(
                code, service, uid, number, status, new_amount, current, row.amount if row else None
            )
        )
    if not revisions:
        return []
    connection = session.connection()
    new_ids: dict[int, uuid.UUID] = {}
    if inserts:
        names = tuple(inserts[0])
        insert_rows(connection, _ENTITLEMENTS, names, [tuple(v[n] for n in names) for v in inserts])
        ids = dict(
            session.execute(
                select(Entitlement.uid, Entitlement.id).where(
                    Entitlement.uid.in_(bindparam("uids", expanding=True))
                ),
                {"uids": [v["uid"] for v in inserts]},
            ).all()
        )
        for values, (number, status, amount, start, end) in pending_new:
            entitlement_id = ids[cast(uuid.UUID, values["uid"])]
            new_ids[entitlement_id] = cast(uuid.UUID, values["uid"])
            revision_rows.append((entitlement_id, number, status, amount, start, end))
    if updates:
        # at the driver, the values the rows share bound once
        shared = (reason, ruleset_version, now, actor)
        update_rows(
            connection,
            _ENTITLEMENTS,
            _UPDATED,
            [(*values[:-1], *shared, values[-1]) for values in updates],
        )
    by_uid = {r.entitlement_uid: r for r in revisions}
    letters: dict[tuple[Any, ...], str] = {}
    uid_of_id = {row.id: row.uid for row in stored.values()}
    uid_of_id.update(new_ids)
    for entitlement_id, number, *_ in revision_rows:
        letters[(entitlement_id, number)] = by_uid[uid_of_id[entitlement_id]].letter_reference
    # what the revisions share bound once per statement on SQLite (insert_rows_sharing)
    insert_rows_sharing(
        connection,
        _REVISIONS,
        {
            "reason": reason,
            "explanation": explanation,
            "ruleset_version": ruleset_version,
            "actor": actor,
            "acting_for": None,
            "event_id": None,
            "recorded_at": now,
        },
        (
            "entitlement_id",
            "revision",
            "status",
            "amount",
            "period_start",
            "period_end",
            "letter_reference",
        ),
        [(*row, letters[row[:2]]) for row in revision_rows],
    )
    events: list[Event] = []
    for r in revisions:
        kind = EntitlementChanged if r.previous_status == r.status else EVENT_OF_STATUS[r.status]
        events.append(
            kind(
                entitlement_id=str(r.entitlement_uid),
                service_code=r.service.code,
                owner_member_code=r.service.owner_member_code,
                status=r.status,
                revision=r.revision,
                amount_cents=r.amount,
                cause=CAUSE,
            )
        )
    emit_many(session, events)
    return revisions
