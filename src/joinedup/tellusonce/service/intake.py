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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from joinedup import exchange
from joinedup.core.clock import utcnow
from joinedup.core.db import Database
from joinedup.core.errors import NotFound
from joinedup.core.events import emit_many, tell_on_commit
from joinedup.core.outbox import events_after, outbox_mark
from joinedup.core.settings import get_settings
from joinedup.registries.events import may_concern
from joinedup.tellusonce.events import LifeEventReceived
from joinedup.tellusonce.models import LifeEvent, Notification, Subscription
from joinedup.tellusonce.schemas import LifeEventKind, NotificationStatus, SubscriptionScope

#: The purpose of every exchange call Tell Us Once makes.
PURPOSE = "tell-us-once"
#: Told once a transaction that made notifications due commits (``core.events.on_commit_of``).
NOTIFICATIONS_DUE = "tellusonce.notifications_due"
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
    refs: set[int | None],
) -> list[dict[str, str]]:
    """The next of kin alive (see the module docstring); the register references of the
    relatives read are added to ``refs`` (None for one the answer does not give)."""
    relations = calls.call(
        exchange.registry_service_ref(session, code="relations"),
        purpose=PURPOSE,
        query={"personalCode": personal_code, "asOf": on.isoformat()},
        fields=["partners", "children"],
    ).body
    partners = [p for p in relations.get("partners") or [] if p.get("personalCode")]
    if partners:
        chosen = partners
        candidates = [(str(p["personalCode"]), str(p.get("kind") or "spouse")) for p in partners]
    else:
        chosen = [
            c
            for c in relations.get("children") or []
            if c.get("personalCode") and _adult_on(date.fromisoformat(c["birthDate"]), died_on)
        ]
        candidates = [(str(c["personalCode"]), "child") for c in chosen]
    refs.update(None if r.get("personRef") is None else int(r["personRef"]) for r in chosen)
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


@dataclass(frozen=True)
class Death:
    """A death registered, as the register's ``population.death_registered.v1`` names it."""

    source_event_id: uuid.UUID
    person_ref: int | str
    date_of_death: date


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
    death = Death(source_event_id, person_ref, date_of_death)
    return receive_deaths(session, [death], actor=actor, calls=calls)[0]


def receive_deaths(
    session: Session,
    deaths: Sequence[Death],
    *,
    actor: str,
    calls: exchange.ExchangeClient | None = None,
) -> list[int | None]:
    """:func:`receive_death` for each of ``deaths``, in the caller's transaction: each read as
    alone, their life events and notifications written together (one statement each for
    the batch, the subscriptions concerned looked up once per municipality). Returns each
    death's life event id, or None."""
    with _client(session, calls) as reading:
        opening = _read_deaths(session, reading, deaths)
    return _opened(session, opening)


def _read_deaths(
    session: Session, reading: exchange.ExchangeClient, deaths: Sequence[Death]
) -> list[_Opening | None]:
    """Each of ``deaths`` read through ``reading`` (the deceased and their next of kin): the
    life event to write, or None when it was taken in before (or is a repeat in the list)
    or the register does not know the person. Only reads."""
    taken = _taken(session, deaths)
    opening: list[_Opening | None] = []
    for death in deaths:
        if death.source_event_id in taken:
            opening.append(None)
            continue
        taken.add(death.source_event_id)  # (the same event twice: taken in once)
        opening.append(_death_read(session, reading, death))
    return opening


def _taken(session: Session, deaths: Sequence[Death]) -> set[uuid.UUID]:
    """Which of the deaths' events have their life event already."""
    return set(
        session.scalars(
            select(LifeEvent.source_event_id).where(
                LifeEvent.source_event_id.in_({d.source_event_id for d in deaths})
            )
        )
    )


def _opened(session: Session, opening: Sequence[_Opening | None]) -> list[int | None]:
    """Write the life events read (None: nothing to write); each one's id, or None."""
    opened = iter(_open_many(session, [o for o in opening if o is not None]))
    return [None if o is None else next(opened) for o in opening]


@dataclass
class DeathsRead(exchange.KeepsReads):
    """Deaths read ahead of the write transaction (a consumer's first phase on SQLite:
    :func:`read_deaths_ahead`): the life events to write, the records of the reads, and what
    the reads rest on — the newest event in the outbox when they were made and the register
    references of the persons read (``unmapped``: a relative read without one)."""

    openings: list[_Opening | None]
    mark: int
    refs: frozenset[int]
    unmapped: bool

    def apply(self, session: Session) -> bool:
        """Write the life events and their notifications, unless a population event since
        the reads may have changed what was read (False: nothing written), or another
        transaction took one of them in meanwhile."""
        for _, payload in events_after(session, self.mark, prefixes=("population.",)):
            if may_concern(payload, self.refs, unmapped=self.unmapped):
                return False
        deaths = [o.source_event_id for o in self.openings if o is not None]
        if deaths and session.scalar(
            select(LifeEvent.id).where(LifeEvent.source_event_id.in_(deaths)).limit(1)
        ):
            return False
        _opened(session, self.openings)
        return True


def read_deaths_ahead(
    session: Session, deaths: Sequence[Death], *, key_database: Database
) -> DeathsRead:
    """:func:`receive_deaths`' reads, in a transaction that only reads (``session``), as the
    Tell Us Once subsystem; their records kept for the write transaction (a member's first
    signing key, if one is needed, created on ``key_database``). What the death registration
    and the day before it were stays as it was; a relative who dies, a correction of the
    register meanwhile would not: :meth:`DeathsRead.apply` then writes nothing and the
    consumer reads again in its write transaction."""
    mark = outbox_mark(session)
    ahead = exchange.ReadsAhead(key_database, what="tell_us_once_deaths")
    with (
        ahead.kept_if_failing(),
        ahead.client(session, get_settings().tell_us_once_subsystem) as reading,
    ):
        openings = _read_deaths(session, reading, deaths)
    refs: set[int | None] = {int(death.person_ref) for death in deaths}  # (known or not)
    refs.update(ref for o in openings if o is not None for ref in o.refs)
    return DeathsRead(
        openings=openings,
        ahead=ahead,
        mark=mark,
        refs=frozenset(r for r in refs if r is not None),
        unmapped=None in refs,
    )


def _death_read(
    session: Session, reading: exchange.ExchangeClient, death: Death
) -> _Opening | None:
    """The life event of a death, as read through the exchange; None when the register does
    not know the person."""
    day_before = death.date_of_death - timedelta(days=1)
    try:
        person = reading.call(
            exchange.registry_service_ref(session, code="person"),
            purpose=PURPOSE,
            query={"personRef": str(death.person_ref), "asOf": day_before.isoformat()},
            fields=list(PERSON_FIELDS),
        ).body
    except NotFound:
        return None
    code = str(person["personalCode"])
    refs: set[int | None] = {int(death.person_ref)}
    recipients = _next_of_kin(
        reading, session, personal_code=code, on=day_before, died_on=death.date_of_death, refs=refs
    )
    residence = person.get("residenceAddress") or {}
    municipality = residence.get("municipalityCode")
    details = {
        "person": {
            "personalCode": code,
            "givenNames": person.get("givenNames"),
            "familyName": person.get("familyName"),
            "birthDate": person.get("birthDate"),
            "dateOfDeath": death.date_of_death.isoformat(),
        }
    }
    return _Opening(
        source_event_id=death.source_event_id,
        kind=LifeEventKind.DEATH,
        subject_code=code,
        subject_name=_full_name(person),
        occurred_on=death.date_of_death,
        details=details,
        recipients=recipients,
        municipalities=frozenset({municipality} if municipality else ()),
        refs=frozenset(refs),
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
        _Opening(
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
            municipalities=frozenset(municipalities),
        ),
    )


@dataclass(frozen=True)
class _Opening:
    """A life event to write, as read."""

    source_event_id: uuid.UUID
    kind: LifeEventKind
    subject_code: str
    subject_name: str
    occurred_on: date
    details: dict[str, Any]
    recipients: list[dict[str, str]]
    municipalities: frozenset[str]
    #: The register references of the persons read (None: one read without)
    refs: frozenset[int | None] = frozenset()


def _open(session: Session, opening: _Opening) -> int:
    return _open_many(session, [opening])[0]


def _open_many(session: Session, openings: Sequence[_Opening]) -> list[int]:
    """Write the life events and one pending notification for each active subscription that
    concerns each (its kind; ``all``, or ``residents`` of one of its municipalities), in one
    statement for the events and one for the notifications; emit
    ``tellusonce.life_event_received.v1`` for each. A life event no agency is subscribed to
    is completed at once. Returns the life events' ids. (Written as rows, not the session's
    objects: its unit of work inserts rows whose ids it must read back one statement each.)"""
    if not openings:
        return []
    now = utcnow()
    values = [
        {
            "source_event_id": opening.source_event_id,
            "kind": opening.kind.value,
            "subject_code": opening.subject_code,
            "subject_name": opening.subject_name[:300],
            "occurred_on": opening.occurred_on,
            "details": opening.details,
            "recipients": opening.recipients,
            "status": "informing",
            "received_at": now,
            "completed_at": None,
            "letters_sent": 0,
        }
        for opening in openings
    ]
    session.flush()  # (what the session holds goes first)
    written = session.execute(
        insert(LifeEvent).returning(LifeEvent.source_event_id, LifeEvent.id),
        values,
        execution_options={"render_nulls": True},
    ).all()
    ids = dict(written)
    events = [ids[opening.source_event_id] for opening in openings]
    concerned: dict[tuple[str, frozenset[str]], list[int]] = {}
    counts: list[int] = []
    notifications: list[dict[str, Any]] = []
    for opening, life_event_id in zip(openings, events, strict=True):
        key = (opening.kind.value, opening.municipalities)
        if key not in concerned:
            concerned[key] = _subscriptions_concerned(session, opening.kind, key[1])
        subscription_ids = concerned[key]
        counts.append(len(subscription_ids))
        notifications.extend(
            {
                "life_event_id": life_event_id,
                "subscription_id": subscription_id,
                "message_id": uuid.uuid4(),
                "status": NotificationStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for subscription_id in subscription_ids
        )
    if notifications:
        session.execute(insert(Notification), notifications)
        tell_on_commit(session, NOTIFICATIONS_DUE)  # (the dispatcher of this process wakes)
    emit_many(
        session,
        [
            LifeEventReceived(
                life_event_id=life_event_id, kind=opening.kind.value, notifications=count
            )
            for opening, life_event_id, count in zip(openings, events, counts, strict=True)
        ],
    )
    for life_event_id, count in zip(events, counts, strict=True):
        if not count:
            from joinedup.tellusonce.service.delivery import complete_if_settled

            complete_if_settled(session, life_event_id=life_event_id, actor="tell-us-once")
    return events


def _subscriptions_concerned(
    session: Session, kind: LifeEventKind, municipalities: frozenset[str]
) -> list[int]:
    """The active subscriptions to ``kind`` that concern a person of ``municipalities``."""
    scopes = [Subscription.scope == SubscriptionScope.ALL.value]
    if municipalities:
        scopes.append(
            (Subscription.scope == SubscriptionScope.RESIDENTS.value)
            & Subscription.municipality_code.in_(sorted(municipalities))
        )
    concerned = select(Subscription.id).where(
        Subscription.active.is_(True), Subscription.life_event == kind.value, or_(*scopes)
    )
    return list(session.scalars(concerned.order_by(Subscription.id)))
