"""Reacting to life events: find the services concerned, gather, evaluate, record, tell.

Every handler takes a LIST of life events and handles them in the caller's one transaction
(the workers' consumers pass one event or a batch): the persons the events name are resolved
once through the life-event routing subsystem (it reads personal codes only), each service
owner's reads go through one exchange client per owner and purpose, the outcomes are recorded
together, and the letters go out in one mailbox batch.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session

from joinedup import catalogue, consent, exchange, identity, rules
from joinedup.catalogue import CatalogueService, Concerns, DeliveryMode, LawfulBasis, LifeEvent
from joinedup.core.clock import today
from joinedup.core.errors import NotFound
from joinedup.core.settings import get_settings
from joinedup.proactive.models import Entitlement
from joinedup.proactive.payees import HOLDING, choose_payee, is_household_benefit
from joinedup.proactive.schemas import PERSON_DECIDED, EntitlementStatus
from joinedup.proactive.service import texts
from joinedup.proactive.service.entitlements import (
    PROACTIVE_ACTOR,
    Change,
    Outcome,
    active_entitlements_of,
    catalogued_services,
    entitlements_in,
    holders_of,
    record_outcomes,
    set_status,
    status_for,
)
from joinedup.proactive.service.gathering import ConsentMissing, Evaluation, Gatherer, evaluate
from joinedup.proactive.service.households import Household, household_of
from joinedup.proactive.service.letters import send_decision_letters

log = structlog.get_logger(__name__)

ROUTING_PURPOSE = "life-event-routing"


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


@dataclass
class Reaction:
    """What handling a list of life events did."""

    changes: list[Change] = field(default_factory=list)
    letters: int = 0
    skipped: int = 0


def _first_of_next_month(day: date) -> date:
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
        day = _first_of_next_month(day)
    first = day.replace(day=1)
    return first.strftime("%Y-%m"), first


def resolve_codes(session: Session, refs: Sequence[int]) -> dict[int, str]:
    """The personal codes of register references, read through the exchange by the
    life-event routing subsystem (one data-usage record per person, purpose
    ``life-event-routing``). Unknown references are left out."""
    wanted = list(dict.fromkeys(refs))
    found: dict[int, str] = {}
    if not wanted:
        return found
    service = identity.registry_service(session, "person")
    with exchange.exchange_client(session, client=get_settings().life_event_subsystem) as calls:
        for ref in wanted:
            try:
                answer = calls.call(
                    service,
                    purpose=ROUTING_PURPOSE,
                    query={"personRef": str(ref)},
                    fields=["personalCode"],
                )
            except NotFound:
                continue
            found[ref] = str(answer.body["personalCode"])
    return found


def _applies(service: CatalogueService, occurrence: Occurrence) -> bool:
    if service.delivery_mode is DeliveryMode.APPLICATION:
        return False
    municipality = service.owner.municipality_code
    return municipality is None or municipality == occurrence.municipality_code


def _concerned(
    gatherer: Gatherer, occurrence: Occurrence, concerns: Concerns, codes: dict[int, str]
) -> list[str]:
    subject = codes.get(occurrence.person_ref)
    if concerns in (Concerns.PERSON, Concerns.CHILD):
        found = [subject] if subject else []
        if concerns is Concerns.PERSON and occurrence.spouse_ref in codes:
            found.append(codes[occurrence.spouse_ref])  # a marriage concerns both spouses
        return found
    if concerns is Concerns.SPOUSE:
        spouse = codes.get(occurrence.spouse_ref) if occurrence.spouse_ref else None
        return [c for c in (subject, spouse) if c]
    if concerns is Concerns.PARENTS:
        if occurrence.parent_refs:
            return [codes[r] for r in occurrence.parent_refs if r in codes]
        if subject is None:
            return []
        return [str(p["personalCode"]) for p in gatherer.relatives(subject, "parents")]
    return []


def _awaiting(service: CatalogueService, person: str, **common: object) -> Outcome:
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


def _lacks_consent(session: Session, service: CatalogueService, person: str) -> bool:
    """Whether ``service`` rests on consent that ``person`` has not given (then nothing may
    be read about them for it)."""
    return service.lawful_basis is LawfulBasis.CONSENT and not consent.has_consent(
        session, agreement=str(service.data_agreement_id), subject_code=person, on=today()
    )


def _decided(
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


def _evaluated(
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
    when the owner may not (or no longer) read about them."""
    if _lacks_consent(session, service, person):
        return _awaiting(service, person, **common)  # nothing is read
    try:
        adults, children = members()
        result = evaluate(
            gatherer, service, person=person, adults=adults, children=children, period=period
        )
    except ConsentMissing:
        return _awaiting(service, person, **common)
    except NotFound:
        return None
    return _decided(service, person, result, common)


def _paid_to_other(service: CatalogueService, person: str, **common: Any) -> Outcome:
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


def _for_household(
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
            _paid_to_other(service, holder, **common) for holder in holders if holder != payee
        )
    deciding = [payee] if payee is not None else [h for h in holders if h not in home.dead]
    for person in deciding:
        decided = _evaluated(
            session, gatherer, service, person, common, period=period,
            members=lambda: (home.adults, home.children),
        )  # fmt: skip
        if decided is not None:
            outcomes.append(decided)
    return outcomes


#: The households read in one owner's batch: (day read, register reference, first day of
#: the month decided) → the household.
Homes = dict[tuple[date, int, date], Household]


def _home(gatherer: Gatherer, homes: Homes, ref: int, first_day: date) -> Household:
    key = (gatherer.on, ref, first_day)
    if key not in homes:
        homes[key] = household_of(gatherer, ref, first_day=first_day)
    return homes[key]


def _homes_concerned(
    gatherer: Gatherer, homes: Homes, occurrence: Occurrence, first_day: date
) -> list[Household]:
    """The households a household benefit is decided for at ``occurrence``: the one its
    person lives in (the newborn's, who turned 18's, who moved's) and, for a move, each
    household of those who lived with the mover the day before (a child moving to the other
    parent leaves the first parent's household with one child fewer, or none; a parent
    moving out leaves the children with the other parent)."""
    found = [_home(gatherer, homes, occurrence.person_ref, first_day)]
    if occurrence.life_event is not LifeEvent.ADDRESS_CHANGE:
        return found
    before = gatherer.on_day(occurrence.on - timedelta(days=1))
    left = household_of(before, occurrence.person_ref, first_day=before.on)
    seen = set(found[0].refs)
    for code, ref in left.refs.items():
        if ref == occurrence.person_ref or code in seen:
            continue
        home = _home(gatherer, homes, ref, first_day)
        seen.update(home.refs)
        found.append(home)
    return found


def _evaluate_service(
    session: Session,
    gatherer: Gatherer,
    service: CatalogueService,
    occurrence: Occurrence,
    codes: dict[int, str],
    homes: Homes,
) -> list[Outcome]:
    period, first_day = decision_period(occurrence)
    regarding = codes.get(occurrence.person_ref)
    outcomes: list[Outcome] = []
    for concerns in service.concerned(occurrence.life_event):
        if concerns is Concerns.ESTATE:
            continue  # the deceased's own entitlements end (see end_at_death)
        ruleset = rules.get_ruleset(service.ruleset)
        # one grant per household and month: twins share one birth grant (the rules count
        # every child born in the month), a child born a year later has their own
        occasion = f"{occurrence.life_event.value}:{period}" if service.per_occasion else ""
        if concerns is Concerns.PARENTS and is_household_benefit(ruleset, service.variable):
            # decided for the parents of the household the newborn (who turned 18, who
            # moved) lives in, as registered: a parent living elsewhere is not one of them
            try:
                concerned = _homes_concerned(gatherer, homes, occurrence, first_day)
            except (NotFound, ConsentMissing):
                continue
            for home in concerned:
                common: dict[str, Any] = {
                    "occasion": occasion,
                    "period_start": first_day,
                    "life_event": occurrence.life_event.value,
                    "regarding_code": regarding if regarding not in home.parents else None,
                    "event_id": occurrence.event_id,
                }
                outcomes += _for_household(
                    session, gatherer, service, home, period=period, common=common
                )
            continue
        try:
            persons = _concerned(gatherer, occurrence, concerns, codes)
        except (NotFound, ConsentMissing):
            continue
        entity = ruleset.variable(service.variable).entity
        household = concerns is Concerns.PARENTS or entity == "household"
        common = {
            "occasion": occasion,
            "period_start": first_day,
            "life_event": occurrence.life_event.value,
            "regarding_code": regarding if regarding not in persons else None,
            "event_id": occurrence.event_id,
        }
        receiving = persons
        if household and persons and is_household_benefit(ruleset, service.variable):
            # a household benefit for the persons a life event concerns themselves (a move,
            # a marriage): one payee among them
            holders = holders_of(session, service, persons, occasion=common["occasion"])
            payee = choose_payee(persons, holders=holders, birth_parent=None)
            receiving = [payee] if payee is not None else []
            outcomes.extend(
                _paid_to_other(service, holder, **common) for holder in holders if holder != payee
            )
        members = _members_of(gatherer, persons) if household else _no_members
        for person in receiving:
            decided = _evaluated(
                session, gatherer, service, person, common, period=period, members=members
            )
            if decided is not None:
                outcomes.append(decided)
    return outcomes


def _no_members() -> tuple[None, None]:
    return None, None


def _members_of(gatherer: Gatherer, persons: list[str]) -> Members:
    """The adults and children of ``persons``' family, read once, when first asked for."""
    found: list[tuple[list[str], list[str]]] = []

    def members() -> tuple[list[str], list[str]]:
        if not found:
            found.append(gatherer.household(persons))
        return found[0]

    return members


def end_at_death(
    session: Session, *, person_codes: dict[str, tuple[date, uuid.UUID | None]]
) -> list[Change]:
    """End every active entitlement of the deceased (``person_codes``: code → (date of death,
    event id)); no letter goes to the deceased (the next of kin hear through Tell Us Once)."""
    changes = []
    for row in active_entitlements_of(session, person_codes=list(person_codes)):
        died_on, event_id = person_codes[row.person_code]
        changes.append(
            set_status(
                session,
                row,
                status=EntitlementStatus.ENDED,
                reason=texts.ENDED_AT_DEATH,
                actor=PROACTIVE_ACTOR,
                period_end=died_on,
                event_id=event_id,
                cause=LifeEvent.DEATH.value,
            )
        )
    return changes


def _passes_on(row: Entitlement, status: EntitlementStatus) -> bool:
    """Whether a household benefit the deceased held in ``status`` passes to the survivors:
    anything held for the household (:data:`~joinedup.proactive.payees.HOLDING`) but a
    one-off grant already given (granted for an occasion: nothing is left to give)."""
    if status is EntitlementStatus.GRANTED:
        return row.occasion == ""
    return status in HOLDING


def _left_by(
    session: Session, ended: Sequence[Change], deaths: dict[str, tuple[date, uuid.UUID | None]]
) -> list[Entitlement]:
    """What the deceased held that may pass to the surviving parents: what their death ended
    (granted, offered, eligible, waiting for consent) and what they declined or opted out of
    (which stays as they left it). Their decline or opt-out was their choice for the
    household while they were its payee; it does not bind the survivors, who decide for
    themselves — as in the re-evaluation, where only living parents receive for a household
    and a dead holder binds nobody (:func:`~joinedup.proactive.payees.payee_mask`)."""
    rows = [
        change.entitlement
        for change in ended
        if change.previous_status is not None
        and _passes_on(change.entitlement, change.previous_status)
    ]
    rows += entitlements_in(session, person_codes=list(deaths), statuses=sorted(PERSON_DECIDED))
    return rows


@dataclass(frozen=True)
class _PassedOn:
    """An outcome for a survivor, and the letter's note saying why it comes to them."""

    outcome: Outcome
    note: str


def _households_left(
    calls: exchange.ExchangeClient,
    *,
    purpose: str,
    deceased_ref: int,
    died_on: date,
    first_day: date,
    refs: dict[str, str],
) -> tuple[Gatherer, list[Household]]:
    """The households the deceased's children live in from the month after the death: those
    of the persons who lived with the deceased the day before it (the day of death ends
    their residence), as the register has them on the first day of the next month, with
    their roles on ``first_day``. Returns the gatherer that read them (it holds their facts)."""
    before = Gatherer(calls, purpose=purpose, on=died_on - timedelta(days=1), refs=refs)
    lived_with = household_of(before, deceased_ref, first_day=before.on)
    after = Gatherer(calls, purpose=purpose, on=_first_of_next_month(died_on), refs=refs)
    found: list[Household] = []
    seen: set[str] = set()
    for code, ref in lived_with.refs.items():
        if ref == deceased_ref or code in seen:
            continue
        home = household_of(after, ref, first_day=first_day)
        seen.update(home.refs)
        if home.has_child_of(deceased_ref):
            found.append(home)
    return after, found


def _to_surviving_parents(
    session: Session,
    ended: Sequence[Change],
    deaths: dict[str, tuple[date, uuid.UUID | None]],
    *,
    refs: dict[str, str],
    death_refs: dict[str, int],
) -> list[_PassedOn]:
    """A household benefit whose payee died is decided again for the surviving parents of
    the household the deceased's children live in (:mod:`joinedup.proactive.payees`): a
    continuing one from the next month, a one-off offer for its own occasion (the survivor
    is offered it, and decides). The household is read as the population register has it
    from the next month (:func:`_households_left`), through the service owner's exchange
    client: a surviving parent who lives elsewhere is not one of its parents."""
    left = _left_by(session, ended, deaths)
    services = catalogued_services(session, [row.service_code for row in left])
    work: dict[tuple[str, str], list[tuple[Entitlement, CatalogueService]]] = {}
    for row in left:
        service = services.get(row.service_code)
        if (
            service is None
            or row.person_code not in death_refs
            or not is_household_benefit(rules.get_ruleset(service.ruleset), service.variable)
        ):
            continue
        work.setdefault((service.owner.client, service.purpose), []).append((row, service))
    passed: list[_PassedOn] = []
    for (client, purpose), rows in work.items():
        with exchange.exchange_client(session, client=client) as calls:
            read: dict[tuple[str, date], tuple[Gatherer, list[Household]]] = {}
            for row, service in rows:
                deceased = row.person_code
                died_on, event_id = deaths[deceased]
                common: dict[str, Any] = (
                    {
                        "occasion": "",
                        "period_start": _first_of_next_month(died_on),
                        "life_event": LifeEvent.DEATH.value,
                        "regarding_code": None,
                        "event_id": event_id,
                    }
                    if row.occasion == ""
                    else {  # a one-off: for its own occasion (the month of the birth)
                        "occasion": row.occasion,
                        "period_start": row.period_start,
                        "life_event": row.life_event,
                        "regarding_code": row.regarding_code,
                        "event_id": event_id,
                    }
                )
                first_day: date = common["period_start"]
                key = (deceased, first_day)
                if key not in read:
                    try:
                        read[key] = _households_left(
                            calls,
                            purpose=purpose,
                            deceased_ref=death_refs[deceased],
                            died_on=died_on,
                            first_day=first_day,
                            refs=refs,
                        )
                    except (NotFound, ConsentMissing):
                        read[key] = (Gatherer(calls, purpose=purpose, on=died_on), [])
                after, homes = read[key]
                note = (
                    texts.PASSED_ON_OFFER
                    if status_for(service) is EntitlementStatus.OFFERED
                    else texts.PASSED_ON
                )
                for home in homes:
                    passed.extend(
                        _PassedOn(outcome, note)
                        for outcome in _for_household(
                            session,
                            after,
                            service,
                            home,
                            period=first_day.strftime("%Y-%m"),
                            common=common,
                            excluded=deaths,  # another death of the same batch
                        )
                    )
    return passed


def _note_passed_on(changes: Sequence[Change], passed: Sequence[_PassedOn]) -> None:
    """Give the letter of each change a survivor's outcome made the note saying why it comes
    to them (not when it ends: then the rules' reason says it all)."""
    notes = {
        (p.outcome.person_code, p.outcome.service.code, p.outcome.occasion): p.note for p in passed
    }
    for change in changes:
        row = change.entitlement
        note = notes.get((row.person_code, row.service_code, row.occasion))
        if note is not None and change.status is not EntitlementStatus.ENDED:
            change.extra["note"] = note


def react(session: Session, occurrences: Sequence[Occurrence]) -> Reaction:
    """Handle life events in the caller's transaction: resolve the persons they name, end
    the deceased's entitlements (a household benefit they were paid moves to the surviving
    parent), evaluate every service concerned for every person concerned, record the
    outcomes and send the decision letters.

    Changes the entitlements (with revisions), the exchange's records of every read, the
    mailbox; emits ``entitlement.*.v1`` (and the mailbox's ``notify.letter_sent.v1``)."""
    reaction = Reaction()
    if not occurrences:
        return reaction
    refs = [o.person_ref for o in occurrences]
    refs += [r for o in occurrences for r in o.parent_refs]
    refs += [o.spouse_ref for o in occurrences if o.spouse_ref is not None]
    codes = resolve_codes(session, refs)
    deaths = {
        codes[o.person_ref]: (o.on, o.event_id)
        for o in occurrences
        if o.life_event is LifeEvent.DEATH and o.person_ref in codes
    }
    death_refs = {
        codes[o.person_ref]: o.person_ref
        for o in occurrences
        if o.life_event is LifeEvent.DEATH and o.person_ref in codes
    }
    ended = end_at_death(session, person_codes=deaths)
    reaction.changes.extend(ended)
    by_event: dict[LifeEvent, list[CatalogueService]] = {}
    groups: dict[tuple[str, str], list[tuple[CatalogueService, Occurrence]]] = {}
    for occurrence in occurrences:
        if occurrence.person_ref not in codes:
            reaction.skipped += 1
            continue
        services = by_event.get(occurrence.life_event)
        if services is None:
            services = by_event[occurrence.life_event] = catalogue.services_for_life_event(
                session, life_event=occurrence.life_event
            )
        for service in services:
            if _applies(service, occurrence):
                key = (service.owner.client, service.purpose)
                groups.setdefault(key, []).append((service, occurrence))
    service_refs: dict[str, str] = {}
    passed = _to_surviving_parents(session, ended, deaths, refs=service_refs, death_refs=death_refs)
    outcomes = [p.outcome for p in passed]
    for (client, purpose), work in groups.items():
        with exchange.exchange_client(session, client=client) as calls:
            gatherers: dict[date, Gatherer] = {}
            homes: Homes = {}
            for service, occurrence in work:
                gatherer = gatherers.get(occurrence.on)
                if gatherer is None:
                    gatherer = gatherers[occurrence.on] = Gatherer(
                        calls, purpose=purpose, on=occurrence.on, refs=service_refs
                    )
                outcomes.extend(
                    _evaluate_service(session, gatherer, service, occurrence, codes, homes)
                )
    changes = record_outcomes(session, outcomes)
    _note_passed_on(changes, passed)
    reaction.changes.extend(changes)
    reaction.letters = send_decision_letters(session, changes)
    log.info(
        "life_events_handled",
        events=len(occurrences),
        changes=len(reaction.changes),
        letters=reaction.letters,
    )
    return reaction
