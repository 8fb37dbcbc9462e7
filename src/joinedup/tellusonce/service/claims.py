"""Claiming the notifications due: leasing them to a worker, at most so many in flight at
each agency, and what each delivery sends (:mod:`joinedup.tellusonce.service.delivery`
records the answers)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.tellusonce.models import LifeEvent, Notification, Subscription
from joinedup.tellusonce.service.delivery import _PENDING, _dead_letter, complete_if_settled
from joinedup.tellusonce.service.intake import SENT_FIELDS


@dataclass(frozen=True)
class Delivery:
    """A claimed notification: what to send to whom."""

    notification_id: int
    life_event_id: int
    message_id: str
    service: str  # CLASS/MEMBER/SUBSYSTEM/SERVICE
    member_code: str
    body: dict[str, Any]
    data_subjects: tuple[str, ...]
    sent_fields: tuple[str, ...]  # what the body carries about the data subjects
    attempt: int
    issue: str  # the case reference the agency sees (X-Road-Issue)


def message_body(event: LifeEvent) -> dict[str, Any]:
    """What an agency is sent about a life event (the same for every agency and attempt)."""
    return {
        "lifeEvent": event.kind,
        "reference": str(event.source_event_id),
        "occurredOn": event.occurred_on.isoformat(),
        **event.details,
    }


@dataclass(frozen=True)
class Claim:
    """What one claim leased, and whether due notifications were left for want of room at
    their agency (``per_agency`` in flight there already): they are claimed as that
    agency's deliveries settle."""

    deliveries: list[Delivery]
    held_back: bool


def _due(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    return and_(
        Notification.status == _PENDING,
        Notification.next_attempt_at <= now,
        or_(Notification.lease_expires_at.is_(None), Notification.lease_expires_at < now),
    )


#: The statements a claim runs, built once with their values bound at each run (``now``,
#: ``per_agency``, ``limit``, ``ids``): built per claim, their construction, cache key and
#: compilation lookup were two thirds of a claim's time — on SQLite the time of a write
#: transaction, which every other process's writer waits out.
_NOW: BindParameter[datetime] = bindparam("now")


@functools.cache
def _room_statement() -> Any:
    member = (Subscription.member_class, Subscription.member_code)
    busy = (
        select(*member, func.count().label("busy"))
        .join(Notification, Notification.subscription_id == Subscription.id)
        .where(Notification.status == _PENDING, Notification.lease_expires_at >= _NOW)
        .group_by(*member)
        .subquery()
    )
    ranked = (
        select(
            Notification.id,
            Notification.next_attempt_at,
            *member,
            func.row_number()
            .over(partition_by=member, order_by=(Notification.next_attempt_at, Notification.id))
            .label("rank"),
        )
        .join(Subscription, Notification.subscription_id == Subscription.id)
        .where(_due(_NOW))
        .subquery()
    )
    fits = ranked.c.rank + func.coalesce(busy.c.busy, 0) <= bindparam("per_agency")
    return (
        select(ranked.c.id, case((fits, 1), else_=0))
        .outerjoin(
            busy,
            and_(
                busy.c.member_class == ranked.c.member_class,
                busy.c.member_code == ranked.c.member_code,
            ),
        )
        # those that fit first; one more row tells whether any was left for want of room
        .order_by(case((fits, 0), else_=1), ranked.c.next_attempt_at, ranked.c.id)
        .limit(bindparam("limit"))
    )


@functools.cache
def _claimed_statement(*, locking: bool, chosen: bool) -> Any:
    """The due notifications to lease: those chosen (``ids``) that are still due, or the
    oldest due (``limit``); on PostgreSQL a row another worker holds is skipped."""
    statement = select(Notification).where(_due(_NOW))
    if chosen:
        statement = statement.where(Notification.id.in_(bindparam("ids", expanding=True)))
    statement = statement.order_by(Notification.next_attempt_at, Notification.id)
    if not chosen:
        statement = statement.limit(bindparam("limit"))
    return statement.with_for_update(skip_locked=True) if locking else statement


def _room_at_agencies(
    session: Session, now: datetime, *, limit: int, per_agency: int
) -> tuple[list[int], bool]:
    """The due notifications to claim, oldest first, with at most ``per_agency`` in flight at
    any one agency (a member: every service and subsystem of it), counting the live leases
    of every worker; and whether a due notification was left because its agency was full."""
    rows = session.execute(
        _room_statement(), {"now": now, "per_agency": per_agency, "limit": limit + 1}
    ).all()
    ids = [row[0] for row in rows if row[1]][:limit]
    return ids, any(not row[1] for row in rows)


def claim(
    session: Session,
    *,
    owner: str,
    lease_seconds: float,
    max_attempts: int,
    limit: int = 20,
    per_agency: int | None = None,
) -> Claim:
    """Lease up to ``limit`` due notifications to ``owner`` and count the attempt.

    Due: pending, its next attempt time has come and nobody holds a live lease. A notification
    whose last attempt never reported back (its worker died) is dead-lettered instead. With
    ``per_agency``, an agency with that many notifications leased (by any worker) gets no more
    until one settles, so a burst of deaths does not send a small agency's system more
    calls at once than it takes. Oldest due first.
    Changes the notifications' lease and attempts; emits only for dead letters."""
    now = utcnow()
    held_back = False
    locking = session.get_bind().dialect.name == "postgresql"
    if per_agency is None:
        statement = _claimed_statement(locking=locking, chosen=False)
        values: dict[str, Any] = {"now": now, "limit": limit}
    else:
        if per_agency < 1:
            raise ValueError("per_agency must be at least 1")
        ids, held_back = _room_at_agencies(session, now, limit=limit, per_agency=per_agency)
        if not ids:
            return Claim([], held_back)
        # the condition again: on PostgreSQL a row another worker leased meanwhile is
        # skipped (locked) or, once its lease is committed, no longer due
        statement = _claimed_statement(locking=locking, chosen=True)
        values = {"now": now, "ids": ids}
    rows = list(session.scalars(statement, values))
    if not rows:
        return Claim([], held_back)
    subscriptions = {
        s.id: s
        for s in session.scalars(
            select(Subscription).where(Subscription.id.in_({r.subscription_id for r in rows}))
        )
    }
    events = {
        e.id: e
        for e in session.scalars(
            select(LifeEvent).where(LifeEvent.id.in_({r.life_event_id for r in rows}))
        )
    }
    claimed: list[Delivery] = []
    for row in rows:
        if row.attempts >= max_attempts:
            _dead_letter(session, row, "no answer after the last attempt (the worker stopped)")
            complete_if_settled(session, life_event_id=row.life_event_id, actor="tell-us-once")
            continue
        row.attempts += 1
        row.lease_owner = owner[:100]
        row.lease_expires_at = now + timedelta(seconds=lease_seconds)
        subscription, event = subscriptions[row.subscription_id], events[row.life_event_id]
        claimed.append(
            Delivery(
                notification_id=row.id,
                life_event_id=row.life_event_id,
                message_id=str(row.message_id),
                service=f"{subscription.member_class}/{subscription.member_code}/"
                f"{subscription.subsystem_code}/{subscription.service_code}",
                member_code=subscription.member_code,
                body=message_body(event),
                data_subjects=(event.subject_code,),
                sent_fields=SENT_FIELDS.get(event.kind, ()),
                attempt=row.attempts,
                issue=f"tell-us-once:{event.source_event_id}",
            )
        )
    session.flush()
    return Claim(claimed, held_back)
