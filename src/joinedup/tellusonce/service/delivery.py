"""Delivering notifications: recording each agency's answer, retrying, dead-lettering, and —
when every agency of a life event has answered — the one letter (claiming what is due:
:mod:`joinedup.tellusonce.service.claims`).

The dispatcher (:mod:`joinedup.tellusonce.dispatcher`) calls the agencies over HTTP *between*
transactions: :func:`~joinedup.tellusonce.service.claims.claim` (one transaction: lease
the due notifications, count the attempt), then the call, then :func:`record_answer` or
:func:`record_failure` (another). A worker killed between the two leaves a leased
notification that another worker claims once the lease has expired and sends again **with the
same message id**: the agency answers the repeat with what it did the first time, so it acts
once.

Settling a notification locks its life event's row first, so two workers settling the last
two notifications of one event (PostgreSQL, concurrent transactions) cannot both miss that
the event is complete.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from joinedup import notify
from joinedup.core import i18n
from joinedup.core.clock import utcnow
from joinedup.core.db import transaction_memo
from joinedup.core.events import emit, emit_queued, emit_queued_now
from joinedup.core.settings import get_settings
from joinedup.tellusonce.events import (
    AgencyInformed,
    LifeEventCompleted,
    NotificationDeadLettered,
)
from joinedup.tellusonce.models import LifeEvent, Notification, Subscription
from joinedup.tellusonce.schemas import AgencyAnswer, LifeEventKind, NotificationStatus
from joinedup.tellusonce.service.letters import death_letter, move_letter, update_letter

#: The longest wait between two attempts, however many failed before.
MAX_RETRY_DELAY = timedelta(days=1)
_PENDING = NotificationStatus.PENDING.value


def retry_delay(base: float, attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt``: ``base`` seconds doubled per attempt."""
    return min(timedelta(seconds=base * 2 ** max(attempt - 1, 0)), MAX_RETRY_DELAY)


class _SettlingStatements:
    """The statements that lock and settle the answers recorded together (and the life
    events they settle), built once with their values bound at each run (``ids``):
    built per call, their construction and cache key were a tenth of the
    transaction recording the answers — on SQLite the one writer's turn."""

    @functools.cached_property
    def events_of(self) -> Any:
        return select(Notification.life_event_id).where(
            Notification.id.in_(bindparam("ids", expanding=True))
        )

    @functools.cached_property
    def lock_events(self) -> Any:
        return _locking(LifeEvent)

    @functools.cached_property
    def lock_notifications(self) -> Any:
        return _locking(Notification)

    @functools.cached_property
    def subscriptions(self) -> Any:
        return select(Subscription).where(Subscription.id.in_(bindparam("ids", expanding=True)))

    @functools.cached_property
    def pending_among(self) -> Any:
        return (
            select(Notification.life_event_id)
            .where(
                Notification.life_event_id.in_(bindparam("ids", expanding=True)),
                Notification.status == _PENDING,
            )
            .distinct()
        )

    @functools.cached_property
    def answered_among(self) -> Any:
        return (
            select(Notification, Subscription.member_name)
            .join(Subscription, Notification.subscription_id == Subscription.id)
            .where(Notification.life_event_id.in_(bindparam("ids", expanding=True)))
            .order_by(Notification.life_event_id, Notification.id)
        )


def _locking(model: type[LifeEvent] | type[Notification]) -> Any:
    """The rows of ``model`` with the ids ``ids``, in the order of their ids, locked and read
    afresh."""
    return (
        select(model)
        .where(model.id.in_(bindparam("ids", expanding=True)))
        .order_by(model.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


_SETTLING_STATEMENTS = _SettlingStatements()


def lock_for_settling(session: Session, notification_ids: Collection[int]) -> None:
    """Read and lock, for a transaction that records the answers to many notifications, their
    life events' rows and then theirs, each in the order of their ids, and read their
    subscriptions: the answers are then recorded without a query each (:func:`_settling`
    finds the rows here). The same locks, in the same order, as recording them one by one
    in the order (life event, notification): every life event before any notification, so two
    transactions cannot each hold a row the other waits for."""
    wanted = sorted(set(notification_ids))
    if not wanted:
        return
    events = sorted(set(session.scalars(_SETTLING_STATEMENTS.events_of, {"ids": wanted})))
    locked = transaction_memo(session, _LOCKED_EVENTS)
    unlocked = [event_id for event_id in events if event_id not in locked]
    if unlocked:
        for event in session.scalars(_SETTLING_STATEMENTS.lock_events, {"ids": unlocked}):
            locked[event.id] = event
    settling = transaction_memo(session, _SETTLING)
    rows = session.scalars(_SETTLING_STATEMENTS.lock_notifications, {"ids": wanted}).all()
    settling.update({row.id: row for row in rows})
    kept = transaction_memo(session, _SUBSCRIPTIONS)
    unread = {row.subscription_id for row in rows} - kept.keys()
    if unread:
        kept.update(
            {
                s.id: s
                for s in session.scalars(
                    _SETTLING_STATEMENTS.subscriptions, {"ids": sorted(unread)}
                )
            }
        )


def _settling(session: Session, notification_id: int) -> Notification | None:
    """The notification, with its life event's row locked first (once per transaction: the
    answers of one death's agencies recorded together lock it once; read and locked with the
    others of the transaction's answers where :func:`lock_for_settling` was called); None when
    not pending."""
    row: Notification | None = transaction_memo(session, _SETTLING).pop(notification_id, None)
    if row is not None:
        return row if row.status == _PENDING else None
    life_event_id = session.scalar(
        select(Notification.life_event_id).where(Notification.id == notification_id)
    )
    if life_event_id is None:
        return None
    _locked_event(session, life_event_id)
    row = session.get(Notification, notification_id, with_for_update=True, populate_existing=True)
    if row is None or row.status != _PENDING:
        return None
    return row


#: The transaction memos of the life events whose rows this transaction has locked, and of
#: the subscriptions it has read (each by id). They also keep the rows: the session's identity
#: map holds an object only while something else does, and read again, a row dropped from it
#: costs a query each time (five per answer, before).
_LOCKED_EVENTS = "tellusonce.locked_life_events"
_SUBSCRIPTIONS = "tellusonce.subscriptions"
#: The transaction memo of the notifications :func:`lock_for_settling` read and locked, by
#: id, until their answer is recorded.
_SETTLING = "tellusonce.settling"


M = TypeVar("M")


def _kept(
    session: Session, memo: str, model: type[M], ident: int, *, lock: bool = False
) -> M | None:
    """``session.get(model, ident)`` once per transaction (``lock``: the row locked), the row
    kept in the memo ``memo`` for the rest of it."""
    kept = transaction_memo(session, memo)
    if ident not in kept:
        kept[ident] = session.get(model, ident, with_for_update=True if lock else None)
    found: M | None = kept[ident]
    return found


def _locked_event(session: Session, life_event_id: int) -> LifeEvent | None:
    """The life event's row, locked once per transaction (the answers of one death's agencies
    recorded together lock it once)."""
    return _kept(session, _LOCKED_EVENTS, LifeEvent, life_event_id, lock=True)


def _subscription(session: Session, subscription_id: int) -> Subscription:
    found = _kept(session, _SUBSCRIPTIONS, Subscription, subscription_id)
    assert found is not None  # (a notification's subscription is never deleted)
    return found


def record_answer(
    session: Session,
    *,
    notification_id: int,
    answer: AgencyAnswer,
    actor: str,
    complete: bool = True,
) -> bool:
    """The agency acknowledged: store what it did. Emits ``tellusonce.agency_informed.v1``
    and, when it was the last one, sends the letter (see :func:`complete_if_settled`); when
    the letter went out already (the answer of a replayed dead letter, which the letter said
    had not confirmed yet), sends its recipients a follow-up letter with what the agency did.
    Returns False (nothing changed) when the notification was settled already. With
    ``complete=False`` the caller calls :func:`complete_if_settled` for the life event itself
    before its transaction ends (once for the answers of several of its agencies)."""
    row = _settling(session, notification_id)
    if row is None:
        return False
    now = utcnow()
    row.status = NotificationStatus.ACKNOWLEDGED.value
    row.outcome = answer.model_dump(mode="json", by_alias=True, exclude_none=True)
    row.acknowledged_at = now
    row.lease_owner = row.lease_expires_at = None
    row.last_error = None
    # (written by the next query's flush, with the other answers of the transaction: one
    # statement for them all, not one each)
    subscription = _subscription(session, row.subscription_id)
    informed = AgencyInformed(
        notification_id=row.id,
        life_event_id=row.life_event_id,
        member_code=subscription.member_code,
        outcome=answer.outcome,
        attempts=row.attempts,
    )
    if complete:
        emit(session, informed)
    else:  # the answers recorded together: their events in one insert, before the letters'
        emit_queued(session, informed)  # (through the ORM, an object each cost the turn)
    event = _locked_event(session, row.life_event_id)
    if event is not None and event.status == "completed":
        _send_update(session, event, row, agency=subscription.member_name, actor=actor)
    elif complete:
        complete_if_settled(session, life_event_id=row.life_event_id, actor=actor)
    return True


def _tell_recipients(
    session: Session,
    event: LifeEvent,
    letter: Callable[[], tuple[str, list[str]]],
    *,
    suffix: str,
    actor: str,
) -> None:
    """One letter to each recipient of the life event, written by ``letter`` (subject and
    paragraphs) in their language, idempotent on ``tell-us-once/<event>/<recipient><suffix>``."""
    sender = "/".join(get_settings().tell_us_once_subsystem.split("/")[:2])
    for recipient in event.recipients:
        code = recipient["code"]
        locale = notify.preferred_locale(session, person_code=code)
        with i18n.use_locale(locale):
            subject, paragraphs = letter()
        notify.send_letter(
            session,
            recipient_code=code,
            sender=sender,
            kind=notify.LetterKind.INFORMATION.value,
            subject=subject,
            paragraphs=paragraphs,
            reference=f"tell-us-once/{event.source_event_id}/{code}{suffix}",
            regarding=f"tell-us-once:{event.id}",
            locale=locale,
            actor=actor,
        )


def _send_update(
    session: Session, event: LifeEvent, row: Notification, *, agency: str, actor: str
) -> None:
    """The follow-up letter to each recipient of the life event's letter (idempotent on its
    reference, one per notification and recipient)."""
    _tell_recipients(
        session,
        event,
        lambda: update_letter(
            kind=event.kind,
            subject_name=event.subject_name,
            agency=agency,
            outcome=dict(row.outcome or {}),
            reference=f"TUO-{event.id}",
        ),
        suffix=f"/update-{row.id}",
        actor=actor,
    )
    event.letters_sent = (event.letters_sent or 0) + len(event.recipients)
    session.flush()


def record_failure(
    session: Session,
    *,
    notification_id: int,
    error: str,
    permanent: bool = False,
    retry_base: float | None = None,
    max_attempts: int | None = None,
    actor: str,
    complete: bool = True,
) -> str | None:
    """The attempt failed: retry after a growing delay, or — after the last attempt, or at
    once when ``permanent`` (retrying cannot help) — put it in the dead-letter list (emits
    ``tellusonce.notification_dead_lettered.v1``; may complete the life event, unless
    ``complete=False``: see :func:`record_answer`). Returns the new status, or None when the
    notification was settled already."""
    settings = get_settings()
    base = settings.tell_us_once_retry_delay if retry_base is None else retry_base
    limit = settings.tell_us_once_max_attempts if max_attempts is None else max_attempts
    row = _settling(session, notification_id)
    if row is None:
        return None
    if permanent or row.attempts >= limit:
        _dead_letter(session, row, error)
        if complete:
            complete_if_settled(session, life_event_id=row.life_event_id, actor=actor)
        return NotificationStatus.DEAD_LETTER.value
    row.last_error = error[:1000]
    row.next_attempt_at = utcnow() + retry_delay(base, row.attempts)
    row.lease_owner = row.lease_expires_at = None
    session.flush()
    return _PENDING


def _dead_letter(session: Session, row: Notification, error: str) -> None:
    row.status = NotificationStatus.DEAD_LETTER.value
    row.last_error = error[:1000]
    row.dead_lettered_at = utcnow()
    row.lease_owner = row.lease_expires_at = None
    session.flush()
    subscription = _subscription(session, row.subscription_id)
    emit(
        session,
        NotificationDeadLettered(
            notification_id=row.id,
            life_event_id=row.life_event_id,
            member_code=subscription.member_code,
            attempts=row.attempts,
        ),
    )


def complete_if_settled(session: Session, *, life_event_id: int, actor: str) -> bool:
    """When no notification of the life event is pending any more: send the next of kin the
    one letter listing what each agency did (``notify.send_letters``, idempotent on its
    reference), mark the event completed and emit ``tellusonce.life_event_completed.v1``.
    Returns whether it completed the event now. Several life events: :func:`complete_settled`."""
    return bool(complete_settled(session, life_event_ids=[life_event_id], actor=actor))


def complete_settled(session: Session, *, life_event_ids: Sequence[int], actor: str) -> list[int]:
    """:func:`complete_if_settled` for several life events at once (the answers recorded
    together settle the deaths of several): their rows locked in the order given (each once
    per transaction), then in one query each whether any is pending, what each agency
    answered, and the recipients' languages, and **one** sending of every letter (one
    transparency-log batch, one signed tree head, where each letter had its own). The letters
    are sent before the events that say the life events are complete. Returns the ids of the
    life events completed now."""
    emit_queued_now(session)  # the answers' events (record_answer), before the letters'
    open_events: list[LifeEvent] = []
    for life_event_id in dict.fromkeys(life_event_ids):
        event = _locked_event(session, life_event_id)
        if event is not None and event.status != "completed":
            open_events.append(event)
    if not open_events:
        return []
    ids = {"ids": [event.id for event in open_events]}
    pending = set(session.scalars(_SETTLING_STATEMENTS.pending_among, ids))
    settled = [event for event in open_events if event.id not in pending]
    if not settled:
        return []
    answered: dict[int, list[tuple[Notification, str]]] = {event.id: [] for event in settled}
    for notification, name in session.execute(
        _SETTLING_STATEMENTS.answered_among, {"ids": list(answered)}
    ):
        answered[notification.life_event_id].append((notification, name))
    recipients = [recipient["code"] for event in settled for recipient in event.recipients]
    preferences = notify.delivery_preferences(session, person_codes=recipients)
    sender = "/".join(get_settings().tell_us_once_subsystem.split("/")[:2])
    letters: list[notify.NewLetter] = []
    counts: list[tuple[int, int]] = []
    for event in settled:
        rows = answered[event.id]
        informed = [(name, dict(n.outcome or {})) for n, name in rows if n.status != "dead_letter"]
        missing = [name for n, name in rows if n.status == "dead_letter"]
        counts.append((len(informed), len(missing)))
        for recipient in event.recipients:
            code = recipient["code"]
            locale = preferences[code].locale
            with i18n.use_locale(locale):
                subject, paragraphs = _settled_letter(event, informed, missing)
            letters.append(
                notify.NewLetter(
                    recipient_code=code,
                    sender=sender,
                    kind=notify.LetterKind.INFORMATION.value,
                    subject=subject,
                    paragraphs=tuple(paragraphs),
                    reference=f"tell-us-once/{event.source_event_id}/{code}",
                    regarding=f"tell-us-once:{event.id}",
                    locale=locale,
                )
            )
    notify.send_letters(session, letters, actor=actor, preferences=preferences)
    now = utcnow()
    for event, (informed_count, missing_count) in zip(settled, counts, strict=True):
        event.status = "completed"
        event.completed_at = now
        event.letters_sent = len(event.recipients)
        emit(
            session,
            LifeEventCompleted(
                life_event_id=event.id,
                kind=event.kind,
                acknowledged=informed_count,
                dead_lettered=missing_count,
                letters=len(event.recipients),
            ),
        )
    session.flush()
    return [event.id for event in settled]


def _settled_letter(
    event: LifeEvent, informed: list[tuple[str, dict[str, Any]]], missing: list[str]
) -> tuple[str, list[str]]:
    """The subject and paragraphs of a settled life event's letter, in the current locale."""
    reference = f"TUO-{event.id}"
    if event.kind == LifeEventKind.MOVE.value:
        return move_letter(
            moved_on=event.occurred_on,
            informed=informed,
            not_confirmed=missing,
            reference=reference,
        )
    return death_letter(
        deceased=event.subject_name,
        died_on=event.occurred_on,
        informed=informed,
        not_confirmed=missing,
        reference=reference,
    )
