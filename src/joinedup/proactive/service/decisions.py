"""The person decides: accept an offer, decline it, opt out of an automatic grant; and what
they (and staff) read: their entitlements with the reasons.

The actor is the person, or someone with a mandate for them (a parent for a child under 18, a
guardian, an attorney) covering the service: the mandate is checked here, through
:func:`joinedup.identity.authorise` (parents' mandates are read from the registries through
the exchange as the portal, purpose ``mandate-check``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup import catalogue, exchange, identity
from joinedup.catalogue import CatalogueService, DeliveryMode
from joinedup.core.clock import today
from joinedup.core.errors import Conflict, NotFound, ValidationFailed
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.core.settings import get_settings
from joinedup.proactive.models import Entitlement, EntitlementRevision
from joinedup.proactive.schemas import (
    Decision,
    EntitlementDetail,
    EntitlementRevisionView,
    EntitlementStatus,
    EntitlementView,
)
from joinedup.proactive.service import texts
from joinedup.proactive.service.entitlements import (
    PROACTIVE_ACTOR,
    Change,
    respond_by,
    set_status,
)
from joinedup.proactive.service.letters import send_decision_letters


def decisions_open(
    row: Entitlement, service: CatalogueService | None = None, *, on: date | None = None
) -> list[Decision]:
    """What the person may decide about the entitlement on ``on`` (default today): nothing
    about an offer whose time to answer has run out."""
    status = EntitlementStatus(row.status)
    if status is EntitlementStatus.OFFERED:
        last_day = respond_by(row, service)
        if last_day is not None and (on or today()) > last_day:
            return []
        return [Decision.ACCEPT, Decision.DECLINE]
    if status is EntitlementStatus.GRANTED and row.delivery_mode == "automatic":
        return [Decision.OPT_OUT]
    return []


def _view(row: Entitlement, service: CatalogueService | None) -> EntitlementView:
    return EntitlementView(
        id=row.uid,
        person_code=row.person_code,
        service_code=row.service_code,
        service_name=service.name() if service else row.service_code,
        owner_member_class=row.owner_member_class,
        owner_member_code=row.owner_member_code,
        owner_name=service.owner.name if service else row.owner_member_code,
        delivery_mode=row.delivery_mode,
        status=EntitlementStatus(row.status),
        amount_cents=row.amount,
        period_start=row.period_start,
        period_end=row.period_end,
        occasion=row.occasion,
        regarding_code=row.regarding_code,
        life_event=row.life_event,
        reason=row.reason,
        explanation=row.explanation,
        ruleset=row.ruleset,
        ruleset_version=row.ruleset_version,
        variable=row.variable,
        legal_basis=row.legal_basis,
        legal_basis_url=row.legal_basis_url,
        apply_url=service.apply_url if service else None,
        revision=row.revision,
        updated_at=row.updated_at,
        respond_by=respond_by(row, service),
        decisions=decisions_open(row, service),
    )


def _check_code(person_code: str) -> None:
    if (
        not person_code
        or len(person_code) > 32
        or not (person_code.isascii() and person_code.isdigit())
    ):
        raise ValidationFailed(
            "person_code is not a personal code",
            errors=[{"field": "person_code", "message": "is not a personal code"}],
        )


def _service_of(session: Session, code: str) -> CatalogueService | None:
    """The catalogued service ``code``; None once removed from the catalogue (its
    entitlements stay readable)."""
    return catalogue.get_catalogued_services(session, codes=[code]).get(code)


def list_entitlements(
    session: Session,
    *,
    person_code: str,
    status: Sequence[EntitlementStatus | str] | None = None,
    owner_member_code: str | None = None,
    owner_member_class: str | None = None,
    service_codes: Sequence[str] | None = None,
    page: PageRequest | None = None,
) -> Page[EntitlementView]:
    """The person's entitlements, newest first (keyset pages), each with its reason and
    explanation and what the person may decide; optionally only some statuses, one owner's
    (an agency's staff see their own agency's) or some services'. Reads only."""
    _check_code(person_code)
    statement = select(Entitlement).where(Entitlement.person_code == person_code)
    if status:
        try:
            wanted = [EntitlementStatus(s).value for s in status]
        except ValueError:
            raise ValidationFailed(
                "status is not an entitlement status",
                errors=[{"field": "status", "message": "unknown status"}],
            ) from None
        statement = statement.where(Entitlement.status.in_(wanted))
    if owner_member_code is not None:
        statement = statement.where(Entitlement.owner_member_code == owner_member_code)
    if owner_member_class is not None:
        statement = statement.where(Entitlement.owner_member_class == owner_member_class)
    if service_codes is not None:
        statement = statement.where(Entitlement.service_code.in_(list(service_codes)))
    rows, next_cursor = keyset_page(
        session,
        statement,
        keys=[Entitlement.__table__.c.id],
        request=page or PageRequest(),
        descending=True,
    )
    services = catalogue.get_catalogued_services(session, codes=[r.service_code for r in rows])
    return Page[EntitlementView](
        items=[_view(r, services.get(r.service_code)) for r in rows], next_cursor=next_cursor
    )


def _find(session: Session, entitlement_id: uuid.UUID | str, *, lock: bool = False) -> Entitlement:
    try:
        uid = entitlement_id if isinstance(entitlement_id, uuid.UUID) else uuid.UUID(entitlement_id)
    except ValueError:
        raise NotFound("there is no such entitlement") from None
    statement = select(Entitlement).where(Entitlement.uid == uid)
    if lock:
        statement = statement.with_for_update()
    row = session.scalar(statement)
    if row is None:
        raise NotFound("there is no such entitlement")
    return row


def get_entitlement(
    session: Session, *, entitlement_id: uuid.UUID | str, person_code: str
) -> EntitlementDetail:
    """One of the person's entitlements with its revision history (oldest first). Another
    person's is ``NotFound`` too: identifiers are not secrets to guess. Reads only."""
    row = _find(session, entitlement_id)
    if row.person_code != person_code:
        raise NotFound("there is no such entitlement")
    history = [
        EntitlementRevisionView(
            revision=r.revision,
            status=EntitlementStatus(r.status),
            amount_cents=r.amount,
            period_start=r.period_start,
            period_end=r.period_end,
            reason=r.reason,
            ruleset_version=r.ruleset_version,
            actor=r.actor,
            acting_for=r.acting_for,
            letter_reference=r.letter_reference,
            recorded_at=r.recorded_at,
        )
        for r in session.scalars(
            select(EntitlementRevision)
            .where(EntitlementRevision.entitlement_id == row.id)
            .order_by(EntitlementRevision.revision)
        )
    ]
    view = _view(row, _service_of(session, row.service_code))
    return EntitlementDetail(**view.model_dump(), history=history)


_NEXT = {
    Decision.ACCEPT: (EntitlementStatus.OFFERED, EntitlementStatus.GRANTED),
    Decision.DECLINE: (EntitlementStatus.OFFERED, EntitlementStatus.DECLINED),
    Decision.OPT_OUT: (EntitlementStatus.GRANTED, EntitlementStatus.OPTED_OUT),
}
_REASONS = {
    Decision.ACCEPT: texts.OFFER_ACCEPTED,
    Decision.DECLINE: texts.OFFER_DECLINED,
    Decision.OPT_OUT: texts.OPTED_OUT,
}


def _authorise(session: Session, *, actor_code: str, row: Entitlement, on: date) -> str | None:
    """The subject's code when the actor acts for someone else (``Forbidden`` without a
    mandate covering the service); None when the actor is the person."""
    if actor_code == row.person_code:
        return None
    action = f"service:{row.service_code}"
    with exchange.exchange_client(
        session,
        client=get_settings().portal_subsystem,
        user_id=actor_code,
        represented_party=row.person_code,
    ) as calls:
        identity.authorise(
            session,
            actor_code=actor_code,
            subject_code=row.person_code,
            action=action,
            on=on,
            calls=calls,
        )
    return row.person_code


def decide(
    session: Session,
    *,
    entitlement_id: uuid.UUID | str,
    decision: Decision | str,
    actor_code: str,
) -> EntitlementDetail:
    """Record the person's ``decision`` (accept or decline an offer, opt out of an automatic
    grant), made by ``actor_code``: the person, or someone whose mandate covers the service.

    Changes the entitlement (a new revision naming the actor and whom they acted for) and
    puts a letter in the person's mailbox; emits ``entitlement.granted.v1``,
    ``entitlement.declined.v1`` or ``entitlement.opted_out.v1``. ``NotFound`` for an unknown
    entitlement, ``Forbidden`` without a mandate, ``Conflict`` when the entitlement is not in
    a state the decision applies to (e.g. declining what was already accepted)."""
    try:
        chosen = Decision(decision)
    except ValueError:
        raise ValidationFailed(
            "decision must be accept, decline or opt_out",
            errors=[{"field": "decision", "message": "must be accept, decline or opt_out"}],
        ) from None
    _check_code(actor_code)
    row = _find(session, entitlement_id, lock=True)
    on = today()
    acting_for = _authorise(session, actor_code=actor_code, row=row, on=on)
    needed, new_status = _NEXT[chosen]
    service = _service_of(session, row.service_code)
    last_day = respond_by(row, service)
    if last_day is not None and on > last_day:
        raise Conflict(
            f"the offer lapsed: it could be answered until {last_day.isoformat()}",
            status_now=row.status,
            respond_by=last_day.isoformat(),
        )
    if chosen not in decisions_open(row, service, on=on):
        raise Conflict(
            f"this entitlement is {row.status}: {chosen.value} applies only to one that is "
            f"{needed.value}"
            + (" and granted automatically" if chosen is Decision.OPT_OUT else ""),
            status_now=row.status,
            needs=needed.value,
        )
    change: Change = set_status(
        session,
        row,
        status=new_status,
        reason=_REASONS[chosen],
        actor=f"person:{actor_code}",
        acting_for=acting_for,
        period_end=on if new_status is not EntitlementStatus.GRANTED else None,
        cause=f"decision:{chosen.value}",
    )
    send_decision_letters(session, [change], actor=f"person:{actor_code}")
    return get_entitlement(session, entitlement_id=row.uid, person_code=row.person_code)


def accept_offer(
    session: Session, *, entitlement_id: uuid.UUID | str, actor_code: str
) -> EntitlementDetail:
    """Confirm an offer (see :func:`decide`)."""
    return decide(
        session, entitlement_id=entitlement_id, decision=Decision.ACCEPT, actor_code=actor_code
    )


def decline_offer(
    session: Session, *, entitlement_id: uuid.UUID | str, actor_code: str
) -> EntitlementDetail:
    """Decline an offer (see :func:`decide`)."""
    return decide(
        session, entitlement_id=entitlement_id, decision=Decision.DECLINE, actor_code=actor_code
    )


def opt_out(
    session: Session, *, entitlement_id: uuid.UUID | str, actor_code: str
) -> EntitlementDetail:
    """Opt out of an automatic grant (see :func:`decide`)."""
    return decide(
        session, entitlement_id=entitlement_id, decision=Decision.OPT_OUT, actor_code=actor_code
    )


def lapse_offers(session: Session, *, on: date) -> int:
    """The daily job: the offers whose time to answer ran out before ``on`` lapse. Each ends
    (a new revision by the proactive services, ``entitlement.ended.v1``) and its letter tells
    the person they did not accept it in time. Returns how many lapsed."""
    changes: list[Change] = []
    offers = catalogue.active_services(session, delivery_mode=DeliveryMode.PROACTIVE_OFFER)
    for service in offers:
        if service.respond_within_days is None:
            continue
        # updated on or after this instant: its last day is ``on`` or later
        since = datetime.combine(on - timedelta(days=service.respond_within_days), time(), UTC)
        rows = session.scalars(
            select(Entitlement)
            .where(
                Entitlement.service_code == service.code,
                Entitlement.status == EntitlementStatus.OFFERED.value,
                Entitlement.updated_at < since,
            )
            .order_by(Entitlement.id)
            .with_for_update()
        )
        for row in rows:
            last_day = respond_by(row, service)
            change = set_status(
                session,
                row,
                status=EntitlementStatus.ENDED,
                reason=texts.OFFER_LAPSED,
                actor=PROACTIVE_ACTOR,
                period_end=on,
                cause="offer-lapsed",
            )
            change.extra["lapsed"] = last_day.isoformat() if last_day else ""
            changes.append(change)
    send_decision_letters(session, changes, actor=PROACTIVE_ACTOR)
    return len(changes)
