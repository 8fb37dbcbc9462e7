"""A life event comes in: what Tell Us Once learns through the exchange, and whom it will tell.

**A death** (:func:`receive_death`):

The registry's event carries the register's reference of the person. Tell Us Once (the Central
Digital Office's ``tell-us-once`` subsystem) reads, through the exchange for the purpose
``tell-us-once`` (so the deceased's and the relatives' data usage shows it):

- the person as they were on the day before the event (personal code, names, birth date,
  residence — whose municipality decides which local authority is told);
- their relations on that day: the spouse or registered partner, else the adult children, are
  the next of kin who receive the one letter (a child's death date is read too: the dead are
  not written to).

**A move** (:func:`receive_move`): the person with their new address; the person is told.

Then, in the caller's transaction, one notification per subscribing agency service.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from joinedup import exchange
from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound
from joinedup.core.events import emit
from joinedup.core.settings import get_settings
from joinedup.tellusonce.events import LifeEventReceived
from joinedup.tellusonce.models import LifeEvent, Notification, Subscription
from joinedup.tellusonce.schemas import LifeEventKind, NotificationStatus, SubscriptionScope

#: The purpose of every exchange call Tell Us Once makes.
PURPOSE = "tell-us-once"
PERSON_FIELDS = ("personalCode", "givenNames", "familyName", "birthDate", "residenceAddress")
#: What the agencies are sent about the person, per life event (the data-usage records name
#: these fields).
SENT_FIELDS = {
    LifeEventKind.DEATH.value: ("personalCode", "givenNames", "familyName", "birthDate",
                                "dateOfDeath"),
    LifeEventKind.MOVE.value: ("personalCode", "givenNames", "familyName", "birthDate",
                               "residenceAddress"),
}  # fmt: skip
ADULT_AGE = 18


def _adult_on(birth: date, day: date) -> bool:
    try:
        eighteenth = birth.replace(year=birth.year + ADULT_AGE)
    except ValueError:  # born on 29 February
        eighteenth = date(birth.year + ADULT_AGE, 3, 1)
    return eighteenth <= day


def _full_name(body: dict[str, Any]) -> str:
    return " ".join(p for p in (body.get("givenNames"), body.get("familyName")) if p).strip()


def _next_of_kin(
    calls: exchange.ExchangeClient,
    session: Session,
    *,
    personal_code: str,
    on: date,
    died_on: date,
) -> list[dict[str, str]]:
    relations = calls.call(
        exchange.registry_service_ref(session, code="relations"),
        purpose=PURPOSE,
        query={"personalCode": personal_code, "asOf": on.isoformat()},
        fields=["partners", "children"],
    ).body
    partners = [p for p in relations.get("partners") or [] if p.get("personalCode")]
    if partners:
        candidates = [(str(p["personalCode"]), str(p.get("kind") or "spouse")) for p in partners]
    else:
        candidates = [
            (str(c["personalCode"]), "child")
            for c in relations.get("children") or []
            if c.get("personalCode") and _adult_on(date.fromisoformat(c["birthDate"]), died_on)
        ]
    found: list[dict[str, str]] = []
    for code, relationship in candidates:
        try:
            relative = calls.call(
                exchange.registry_service_ref(session, code="person"),
                purpose=PURPOSE,
                query={"personalCode": code},
                fields=["personalCode", "givenNames", "familyName", "dateOfDeath"],
            ).body
        except NotFound:
            continue
        if relative.get("dateOfDeath"):
            continue
        found.append({"code": code, "name": _full_name(relative), "relationship": relationship})
    return found


@contextmanager
def _client(
    session: Session, calls: exchange.ExchangeClient | None
) -> Iterator[exchange.ExchangeClient]:
    """``calls``, or (None) the Tell Us Once subsystem's own client for the block."""
    if calls is not None:
        yield calls
        return
    with exchange.exchange_client(session, client=get_settings().tell_us_once_subsystem) as own:
        yield own


def receive_death(
    session: Session,
    *,
    source_event_id: uuid.UUID,
    person_ref: int | str,
    date_of_death: date,
    actor: str,
    calls: exchange.ExchangeClient | None = None,
) -> int | None:
    """Take in the registration of a death (the register's ``population.death_registered.v1``).

    Reads the deceased and their next of kin through the exchange (see the module docstring;
    ``calls``: the Tell Us Once subsystem's client of the caller's batch, else one of its own),
    then writes the life event and one pending notification per active subscription to
    ``death`` that concerns the deceased (every ``all`` subscription; a ``residents`` one
    when they lived in its municipality). Emits ``tellusonce.life_event_received.v1``.
    Returns the life event's id; ``None`` when the event was taken in before or the register
    does not know the person (nothing written)."""
    if session.scalar(select(LifeEvent.id).where(LifeEvent.source_event_id == source_event_id)):
        return None
    day_before = date_of_death - timedelta(days=1)
    with _client(session, calls) as reading:
        try:
            person = reading.call(
                exchange.registry_service_ref(session, code="person"),
                purpose=PURPOSE,
                query={"personRef": str(person_ref), "asOf": day_before.isoformat()},
                fields=list(PERSON_FIELDS),
            ).body
        except NotFound:
            return None
        code = str(person["personalCode"])
        recipients = _next_of_kin(
            reading, session, personal_code=code, on=day_before, died_on=date_of_death
        )
    residence = person.get("residenceAddress") or {}
    municipality = residence.get("municipalityCode")
    details = {
        "person": {
            "personalCode": code,
            "givenNames": person.get("givenNames"),
            "familyName": person.get("familyName"),
            "birthDate": person.get("birthDate"),
            "dateOfDeath": date_of_death.isoformat(),
        }
    }
    return _open(
        session,
        source_event_id=source_event_id,
        kind=LifeEventKind.DEATH,
        subject_code=code,
        subject_name=_full_name(person),
        occurred_on=date_of_death,
        details=details,
        recipients=recipients,
        municipalities={municipality} if municipality else set(),
    )


def receive_move(
    session: Session,
    *,
    source_event_id: uuid.UUID,
    person_ref: int | str,
    moved_on: date,
    previous_municipality_code: str | None,
    actor: str,
) -> int | None:
    """Take in a change of residence (``population.address_changed.v1``).

    Reads the person with their new address through the exchange (purpose ``tell-us-once``),
    writes the life event and one pending notification per active subscription to ``move``
    that concerns them (``all``; ``residents`` of the municipality moved to or from). The
    person themselves receives the letter. Emits ``tellusonce.life_event_received.v1``;
    returns the life event's id, ``None`` when taken in before or the person is unknown."""
    if session.scalar(select(LifeEvent.id).where(LifeEvent.source_event_id == source_event_id)):
        return None
    settings = get_settings()
    with exchange.exchange_client(session, client=settings.tell_us_once_subsystem) as calls:
        try:
            person = calls.call(
                exchange.registry_service_ref(session, code="person"),
                purpose=PURPOSE,
                query={"personRef": str(person_ref), "asOf": moved_on.isoformat()},
                fields=list(PERSON_FIELDS),
            ).body
        except NotFound:
            return None
    code = str(person["personalCode"])
    address = person.get("residenceAddress") or {}
    municipalities = {m for m in (address.get("municipalityCode"), previous_municipality_code) if m}
    return _open(
        session,
        source_event_id=source_event_id,
        kind=LifeEventKind.MOVE,
        subject_code=code,
        subject_name=_full_name(person),
        occurred_on=moved_on,
        details={
            "person": {
                "personalCode": code,
                "givenNames": person.get("givenNames"),
                "familyName": person.get("familyName"),
                "birthDate": person.get("birthDate"),
                "residenceAddress": address or None,
            },
            "previousMunicipalityCode": previous_municipality_code,
        },
        recipients=[{"code": code, "name": _full_name(person), "relationship": "self"}],
        municipalities=municipalities,
    )


def _open(
    session: Session,
    *,
    source_event_id: uuid.UUID,
    kind: LifeEventKind,
    subject_code: str,
    subject_name: str,
    occurred_on: date,
    details: dict[str, Any],
    recipients: list[dict[str, str]],
    municipalities: set[str],
) -> int:
    now = utcnow()
    event = LifeEvent(
        source_event_id=source_event_id,
        kind=kind.value,
        subject_code=subject_code,
        subject_name=subject_name[:300],
        occurred_on=occurred_on,
        details=details,
        recipients=recipients,
        status="informing",
        received_at=now,
        completed_at=None,
        letters_sent=0,
    )
    session.add(event)
    session.flush()
    scopes = [Subscription.scope == SubscriptionScope.ALL.value]
    if municipalities:
        scopes.append(
            (Subscription.scope == SubscriptionScope.RESIDENTS.value)
            & Subscription.municipality_code.in_(sorted(municipalities))
        )
    concerned = select(Subscription.id).where(
        Subscription.active.is_(True), Subscription.life_event == kind.value, or_(*scopes)
    )
    subscription_ids = list(session.scalars(concerned.order_by(Subscription.id)))
    session.add_all(
        Notification(
            life_event_id=event.id,
            subscription_id=subscription_id,
            message_id=uuid.uuid4(),
            status=NotificationStatus.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        for subscription_id in subscription_ids
    )
    session.flush()
    emit(
        session,
        LifeEventReceived(
            life_event_id=event.id, kind=kind.value, notifications=len(subscription_ids)
        ),
    )
    if not subscription_ids:
        from joinedup.tellusonce.service.delivery import complete_if_settled

        complete_if_settled(session, life_event_id=event.id, actor="tell-us-once")
    return event.id
