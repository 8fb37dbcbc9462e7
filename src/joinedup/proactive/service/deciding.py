"""Deciding a service for a person or a household at a life event: the month decided, consent
first, then the rules (:mod:`joinedup.proactive.service.gathering`), and a household benefit's
one payee (:mod:`joinedup.proactive.payees`). Shared by the life-event reactions
(:mod:`~joinedup.proactive.service.life_events`) and the hand-over at a death
(:mod:`~joinedup.proactive.service.deaths`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from joinedup import consent
from joinedup.catalogue import CatalogueService, LawfulBasis, LifeEvent
from joinedup.core.clock import today
from joinedup.core.errors import NotFound
from joinedup.proactive.payees import choose_payee
from joinedup.proactive.schemas import EntitlementStatus
from joinedup.proactive.service import texts
from joinedup.proactive.service.entitlements import (
    Outcome,
    holders_of,
    status_for,
)
from joinedup.proactive.service.gathering import (
    ConsentMissing,
    Evaluation,
    Gatherer,
    ReadLater,
    evaluate,
)
from joinedup.proactive.service.households import Household, household_of


@dataclass(frozen=True)
class Occurrence:
    """One life event as the proactive services see it (register references, no codes)."""

    life_event: LifeEvent
    event_id: uuid.UUID | None
    on: date
    #: The person it happened to: the newborn, the deceased, who moved, married, turned 18.
    person_ref: int
    parent_refs: tuple[int, ...] = ()
    spouse_ref: int | None = None
    municipality_code: str | None = None


def first_of_next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def decision_period(occurrence: Occurrence) -> tuple[str, date]:
    """The month the rules are evaluated for, and its first day. Reaching an age counts from
    the first month that begins on or after the birthday (ages are whole years on the 1st);
    so does a move (the household is paid as it was for the month the move falls in)."""
    day = occurrence.on
    from_next_month = (
        LifeEvent.AGE_6,
        LifeEvent.AGE_18,
        LifeEvent.PENSION_AGE,
        LifeEvent.ADDRESS_CHANGE,
    )
    if occurrence.life_event in from_next_month and day.day != 1:
        day = first_of_next_month(day)
    first = day.replace(day=1)
    return first.strftime("%Y-%m"), first


def awaiting_consent(service: CatalogueService, person: str, **common: object) -> Outcome:
    return Outcome(
        person_code=person,
        service=service,
        status=EntitlementStatus.AWAITING_CONSENT,
        amount=None,
        reason=texts.AWAITING_CONSENT,
        explanation={"evaluated": False, "waiting_for": "consent"},
        ruleset_version="",
        **common,  # type: ignore[arg-type]
    )


def lacks_consent(session: Session, service: CatalogueService, person: str) -> bool:
    """Whether ``service`` rests on consent that ``person`` has not given (then nothing may
    be read about them for it)."""
    return service.lawful_basis is LawfulBasis.CONSENT and not consent.has_consent(
        session, agreement=str(service.data_agreement_id), subject_code=person, on=today()
    )


def rules_outcome(
    service: CatalogueService, person: str, result: Evaluation, common: dict[str, Any]
) -> Outcome:
    """What the rules decided for ``person``: due (the delivery mode's status) or not."""
    return Outcome(
        person_code=person,
        service=service,
        status=status_for(service) if result.due else None,
        amount=result.amount,
        reason=result.reason,
        explanation=result.explanation,
        ruleset_version=result.ruleset_version,
        **common,
    )


#: Who a household is made of, read when first needed: (adults, children), or (None, None)
#: for a service decided per person.
Members = Callable[[], tuple[list[str] | None, list[str] | None]]


def evaluated_outcome(
    session: Session,
    gatherer: Gatherer,
    service: CatalogueService,
    person: str,
    common: dict[str, Any],
    *,
    period: str,
    members: Members,
) -> Outcome | None:
    """``person``'s outcome: awaiting consent (nothing read), or what the rules decided; None
    when the owner may not (or no longer) read about them, or when the evaluation waits for
    incomes the gatherer notes (``gatherer.waited``: the caller decides again once they are
    read, :meth:`~joinedup.proactive.service.gathering.Gatherer.note_incomes`)."""
    if lacks_consent(session, service, person):
        return awaiting_consent(service, person, **common)  # nothing is read
    try:
        adults, children = members()
        result = evaluate(
            gatherer, service, person=person, adults=adults, children=children, period=period
        )
    except ConsentMissing:
        return awaiting_consent(service, person, **common)
    except (NotFound, ReadLater):
        return None
    return rules_outcome(service, person, result, common)


def paid_to_other(service: CatalogueService, person: str, **common: Any) -> Outcome:
    """A household benefit ``person`` held that is now paid to another parent (ended)."""
    return Outcome(
        person_code=person,
        service=service,
        status=None,
        amount=None,
        reason=texts.PAID_TO_OTHER_PARENT,
        explanation={"evaluated": False, "paid_to": "another parent of the household"},
        ruleset_version="",
        **common,
    )


def for_household(
    session: Session,
    gatherer: Gatherer,
    service: CatalogueService,
    home: Household,
    *,
    period: str,
    common: dict[str, Any],
    excluded: Collection[str] = (),
) -> list[Outcome]:
    """A household benefit decided for the household ``home``: for its payee among its
    living receiving parents (:func:`~joinedup.proactive.payees.choose_payee`; none of
    ``excluded``), in the household as it is, and a parent of it who held it before and
    is not the payee is told it is paid to the other. With no parent to receive for it,
    whoever of it holds it is decided again (the rules end it)."""
    receiving = [code for code in home.living_parents() if code not in excluded]
    holders = holders_of(session, service, home.adults, occasion=common["occasion"])
    payee = choose_payee(receiving, holders=holders, birth_parent=home.birth_parent)
    outcomes: list[Outcome] = []
    if payee is not None:
        outcomes.extend(
            paid_to_other(service, holder, **common) for holder in holders if holder != payee
        )
    deciding = [payee] if payee is not None else [h for h in holders if h not in home.dead]
    for person in deciding:
        decided = evaluated_outcome(
            session, gatherer, service, person, common, period=period,
            members=lambda: (home.adults, home.children),
        )  # fmt: skip
        if decided is not None:
            outcomes.append(decided)
    return outcomes


#: The households read in one owner's batch: (day read, register reference, first day of
#: the month decided) → the household.
Homes = dict[tuple[date, int, date], Household]


def household_in(gatherer: Gatherer, homes: Homes, ref: int, first_day: date) -> Household:
    key = (gatherer.on, ref, first_day)
    if key not in homes:
        homes[key] = household_of(gatherer, ref, first_day=first_day)
    return homes[key]
