"""What an operator of the Central Digital Office sees and does: the dead-letter list, replays,
a life event's progress and the overall status."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import Conflict, NotFound
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.tellusonce.events import NotificationReplayed
from joinedup.tellusonce.models import LifeEvent, Notification, Subscription
from joinedup.tellusonce.schemas import (
    LifeEventKind,
    LifeEventRecord,
    NotificationRecord,
    NotificationStatus,
    StatusRecord,
)


def _record(row: Notification, subscription: Subscription) -> NotificationRecord:
    status = NotificationStatus(row.status)
    return NotificationRecord(
        id=row.id,
        life_event_id=row.life_event_id,
        service=f"{subscription.member_class}/{subscription.member_code}/"
        f"{subscription.subsystem_code}/{subscription.service_code}",
        member_name=subscription.member_name,
        message_id=str(row.message_id),
        status=status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if status is NotificationStatus.PENDING else None,
        last_error=row.last_error,
        outcome=row.outcome,
        acknowledged_at=row.acknowledged_at,
        dead_lettered_at=row.dead_lettered_at,
        replayed_at=row.replayed_at,
        replayed_by=row.replayed_by,
    )


def _subscriptions(session: Session, rows: list[Notification]) -> dict[int, Subscription]:
    wanted = {r.subscription_id for r in rows}
    if not wanted:
        return {}
    return {
        s.id: s for s in session.scalars(select(Subscription).where(Subscription.id.in_(wanted)))
    }


def list_dead_letters(
    session: Session, *, page: PageRequest | None = None
) -> Page[NotificationRecord]:
    """Notifications no agency acknowledged after the last attempt, oldest first."""
    statement = select(Notification).where(
        Notification.status == NotificationStatus.DEAD_LETTER.value
    )
    rows, next_cursor = keyset_page(
        session, statement, keys=[Notification.__table__.c.id], request=page or PageRequest()
    )
    subscriptions = _subscriptions(session, rows)
    return Page[NotificationRecord](
        items=[_record(r, subscriptions[r.subscription_id]) for r in rows],
        next_cursor=next_cursor,
    )


def replay_notification(
    session: Session, *, notification_id: int, actor: str
) -> NotificationRecord:
    """Put a dead-lettered notification back in the queue: due now, with a fresh count of
    attempts and the **same message id** (an agency that did handle it answers the repeat
    without acting twice). Emits ``tellusonce.notification_replayed.v1``. ``NotFound`` for an
    unknown id, ``Conflict`` for one that is not in the dead-letter list."""
    row = session.get(Notification, notification_id, with_for_update=True)
    if row is None:
        raise NotFound(f"notification {notification_id} does not exist", id=notification_id)
    if row.status != NotificationStatus.DEAD_LETTER.value:
        raise Conflict(
            f"notification {notification_id} is {row.status}, not in the dead-letter list",
            id=notification_id,
        )
    now = utcnow()
    row.status = NotificationStatus.PENDING.value
    row.attempts = 0
    row.next_attempt_at = now
    row.lease_owner = row.lease_expires_at = None
    row.replayed_at, row.replayed_by = now, actor[:100]
    session.flush()
    subscription = session.get(Subscription, row.subscription_id)
    assert subscription is not None
    emit(
        session,
        NotificationReplayed(
            notification_id=row.id,
            life_event_id=row.life_event_id,
            member_code=subscription.member_code,
        ),
    )
    return _record(row, subscription)


def life_event_status(session: Session, *, life_event_id: int) -> LifeEventRecord:
    """A life event and each agency's notification (``NotFound`` for an unknown id)."""
    event = session.get(LifeEvent, life_event_id)
    if event is None:
        raise NotFound(f"life event {life_event_id} does not exist", id=life_event_id)
    rows = list(
        session.scalars(
            select(Notification)
            .where(Notification.life_event_id == life_event_id)
            .order_by(Notification.id)
        )
    )
    subscriptions = _subscriptions(session, rows)
    return LifeEventRecord(
        id=event.id,
        kind=LifeEventKind(event.kind),
        occurred_on=event.occurred_on,
        status=event.status,
        received_at=event.received_at,
        completed_at=event.completed_at,
        letters_sent=event.letters_sent,
        notifications=[_record(r, subscriptions[r.subscription_id]) for r in rows],
    )


def tell_us_once_status(session: Session) -> StatusRecord:
    """Counts of life events and notifications by state."""
    events = dict(
        session.execute(select(LifeEvent.status, func.count()).group_by(LifeEvent.status)).all()
    )
    notifications = dict(
        session.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        ).all()
    )
    return StatusRecord(
        life_events_informing=int(events.get("informing", 0)),
        life_events_completed=int(events.get("completed", 0)),
        notifications_pending=int(notifications.get(NotificationStatus.PENDING.value, 0)),
        notifications_acknowledged=int(notifications.get(NotificationStatus.ACKNOWLEDGED.value, 0)),
        notifications_dead_lettered=int(notifications.get(NotificationStatus.DEAD_LETTER.value, 0)),
    )
