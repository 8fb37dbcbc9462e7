"""Reacting to life events: find the services concerned, gather, evaluate, record, tell.

Every handler takes a LIST of life events and handles them in the caller's one transaction
(the workers' consumers pass one event or a batch): the persons the events name are resolved
once through the life-event routing subsystem (it reads personal codes only), each service
owner's reads go through one exchange client per owner and purpose, the outcomes are recorded
together, and the letters go out in one mailbox batch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import structlog
from sqlalchemy.orm import Session

from joinedup import catalogue, exchange, rules
from joinedup.catalogue import CatalogueService, Concerns, DeliveryMode, LifeEvent
from joinedup.core.errors import NotFound
from joinedup.core.settings import get_settings
from joinedup.proactive.payees import choose_payee, is_household_benefit
from joinedup.proactive.service.deaths import (
    PassedOn,
    end_at_death,
    note_passed_on,
    to_surviving_parents,
)
from joinedup.proactive.service.deciding import (
    Homes,
    Members,
    Occurrence,
    decision_period,
    evaluated_outcome,
    for_household,
    household_in,
    lacks_consent,
    paid_to_other,
)
from joinedup.proactive.service.entitlements import (
    Change,
    Outcome,
    holders_ahead,
    holders_of,
    record_outcomes,
)
from joinedup.proactive.service.gathering import ConsentMissing, Gatherer
from joinedup.proactive.service.households import Household, household_of, households_of
from joinedup.proactive.service.letters import send_decision_letters

log = structlog.get_logger(__name__)

ROUTING_PURPOSE = "life-event-routing"


@dataclass
class Reaction:
    """What handling a list of life events did."""

    changes: list[Change] = field(default_factory=list)
    letters: int = 0
    skipped: int = 0


def resolve_codes(
    session: Session, refs: Sequence[int], *, reading: Reading | None = None
) -> dict[int, str]:
    """The personal codes of register references, read through the exchange by the
    life-event routing subsystem (purpose ``life-event-routing``; see
    :func:`~joinedup.exchange.personal_codes`). Unknown references are left out.
    ``reading``: keep the records instead of writing them (see :func:`_client`)."""
    if not refs:
        return {}
    with _client(session, get_settings().life_event_subsystem, reading) as calls:
        return exchange.personal_codes(session, calls, refs, purpose=ROUTING_PURPOSE)


#: Deciding in a transaction that only reads: the records of its reads are kept (to be written
#: in a write transaction, :meth:`~joinedup.proactive.service.prepared.Decided.keep`).
Reading = exchange.ReadsAhead


@contextmanager
def _client(
    session: Session, client: str, reading: Reading | None
) -> Iterator[exchange.ExchangeClient]:
    """Calls through the exchange as ``client``; their records are written when the block
    ends, or (``reading``) kept to be written in another transaction."""
    if reading is None:
        with exchange.exchange_client(session, client=client) as calls:
            yield calls
        return
    with reading.client(session, client) as calls:
        yield calls


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


def _homes_concerned(
    gatherer: Gatherer, homes: Homes, occurrence: Occurrence, first_day: date
) -> list[Household]:
    """The households a household benefit is decided for at ``occurrence``: the one its
    person lives in (the newborn's, who turned 18's, who moved's) and, for a move, each
    household of those who lived with the mover the day before (a child moving to the other
    parent leaves the first parent's household with one child fewer, or none; a parent
    moving out leaves the children with the other parent)."""
    found = [household_in(gatherer, homes, occurrence.person_ref, first_day)]
    if occurrence.life_event is not LifeEvent.ADDRESS_CHANGE:
        return found
    before = gatherer.on_day(occurrence.on - timedelta(days=1))
    left = household_of(before, occurrence.person_ref, first_day=before.on)
    seen = set(found[0].refs)
    for code, ref in left.refs.items():
        if ref == occurrence.person_ref or code in seen:
            continue
        home = household_in(gatherer, homes, ref, first_day)
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
                outcomes += for_household(
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
                paid_to_other(service, holder, **common) for holder in holders if holder != payee
            )
        members = _members_of(gatherer, persons) if household else _no_members
        for person in receiving:
            decided = evaluated_outcome(
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


def _for_parents_households(
    work: Sequence[tuple[CatalogueService, Occurrence]],
) -> Iterator[tuple[CatalogueService, Occurrence]]:
    """The work that decides a household benefit for the parents of the household the life
    event's person lives in (the newborn's, say)."""
    for service, occurrence in work:
        ruleset = rules.get_ruleset(service.ruleset)
        if is_household_benefit(ruleset, service.variable) and Concerns.PARENTS in (
            service.concerned(occurrence.life_event)
        ):
            yield service, occurrence


def _households_ahead(
    gatherers: dict[date, Gatherer],
    work: Sequence[tuple[CatalogueService, Occurrence]],
) -> Homes:
    """The households a batch's household benefits are decided for (the newborns', say), read
    together, one call per day read (:func:`households_of`) rather than one per person. One
    alone is left to be read when needed, as are the households a mover left."""
    wanted: dict[date, set[tuple[int, date]]] = {}
    for _, occurrence in _for_parents_households(work):
        _, first_day = decision_period(occurrence)
        wanted.setdefault(occurrence.on, set()).add((occurrence.person_ref, first_day))
    homes: Homes = {}
    for on, keys in wanted.items():
        if len(keys) < 2:
            continue
        try:
            found = households_of(gatherers[on], keys)
        except (NotFound, ConsentMissing):
            continue  # read one by one when needed: each benefit skipped alone, as then
        homes.update({(on, ref, first_day): home for (ref, first_day), home in found.items()})
    return homes


def _holders_ahead(
    session: Session, work: Sequence[tuple[CatalogueService, Occurrence]], homes: Homes
) -> None:
    """Who of the households read ahead (:func:`_households_ahead`) holds each household
    benefit decided for them, read in one query per service and occasion
    (:func:`~joinedup.proactive.service.entitlements.holders_ahead`) rather than one per
    household (:func:`~joinedup.proactive.service.deciding.for_household` asks each)."""
    wanted: dict[tuple[str, str], tuple[CatalogueService, set[str]]] = {}
    for service, occurrence in _for_parents_households(work):
        period, first_day = decision_period(occurrence)
        home = homes.get((occurrence.on, occurrence.person_ref, first_day))
        if home is None:
            continue  # (read when needed, and its holders with it)
        occasion = f"{occurrence.life_event.value}:{period}" if service.per_occasion else ""
        wanted.setdefault((service.code, occasion), (service, set()))[1].update(home.adults)
    for (_, occasion), (service, codes) in wanted.items():
        holders_ahead(session, service, codes, occasion=occasion)


def _relatives_ahead(
    session: Session,
    gatherers: dict[date, Gatherer],
    work: Sequence[tuple[CatalogueService, Occurrence]],
    codes: dict[int, str],
) -> None:
    """The children of the parents a batch's per-person services for the parents read (the
    family each parent is decided in: :func:`_members_of`), read together, one bulk call per
    day read (:meth:`Gatherer.relatives_ahead`) rather than one per parent. Only where the
    read is certain, so nothing is read that would not be: a service that concerns the
    parents a life event names and is not a household benefit, for parents of whom at least
    one does not lack the consent it rests on — :func:`evaluated_outcome` reads that family
    first thing, for all of them, once one is decided."""
    wanted: dict[date, dict[str, int]] = {}
    for service, occurrence in work:
        if not occurrence.parent_refs or Concerns.PARENTS not in service.concerned(
            occurrence.life_event
        ):
            continue
        if is_household_benefit(rules.get_ruleset(service.ruleset), service.variable):
            continue  # (decided per household, whose members the extract gave)
        parents = {codes[ref]: ref for ref in occurrence.parent_refs if ref in codes}
        if any(not lacks_consent(session, service, code) for code in parents):
            wanted.setdefault(occurrence.on, {}).update(parents)
    for on, persons in wanted.items():
        gatherers[on].relatives_ahead(persons, "children")


def _evaluate_work(
    session: Session,
    gatherers: dict[date, Gatherer],
    work: Sequence[tuple[CatalogueService, Occurrence]],
    codes: dict[int, str],
    homes: Homes,
) -> list[list[Outcome]]:
    """Each service of ``work`` decided at its occurrence, the outcomes in the order of the
    work. The monthly incomes the evaluations ask for are read together: a service whose
    evaluation waits for one (:meth:`Gatherer.note_incomes`) is decided again once every
    income the batch's evaluations asked for is read, in one bulk call per day and range of
    months (:meth:`Gatherer.read_noted_incomes`) rather than one per person."""
    for gatherer in gatherers.values():
        gatherer.note_incomes()
    decided: list[list[Outcome]] = []
    again: list[int] = []
    for index, (service, occurrence) in enumerate(work):
        gatherer = gatherers[occurrence.on]
        gatherer.waited = False
        decided.append(_evaluate_service(session, gatherer, service, occurrence, codes, homes))
        if gatherer.waited:
            again.append(index)
    refs = {code: ref for ref, code in codes.items()}
    for home in homes.values():
        refs.update({code: ref for code, ref in home.refs.items() if ref is not None})
    for gatherer in gatherers.values():
        gatherer.read_noted_incomes(refs)
    for index in again:
        service, occurrence = work[index]
        gatherer = gatherers[occurrence.on]
        decided[index] = _evaluate_service(session, gatherer, service, occurrence, codes, homes)
    return decided


def _refs(occurrences: Sequence[Occurrence]) -> list[int]:
    """The register references the occurrences name (the person, parents, spouse)."""
    refs = [o.person_ref for o in occurrences]
    refs += [r for o in occurrences for r in o.parent_refs]
    refs += [o.spouse_ref for o in occurrences if o.spouse_ref is not None]
    return refs


@dataclass
class Looked:
    """What a list of life events was decided on: the outcomes, every person the decisions
    looked at (personal code → register reference, None where it was not read), the
    addresses of the households read, and the rulesets evaluated."""

    outcomes: list[Outcome] = field(default_factory=list)
    persons: dict[str, int | None] = field(default_factory=dict)
    addresses: set[int] = field(default_factory=set)
    households: bool = False
    rulesets: set[str] = field(default_factory=set)


def _decide(
    session: Session,
    occurrences: Sequence[Occurrence],
    codes: dict[int, str],
    reaction: Reaction,
    reading: Reading | None,
) -> Looked:
    """Every service concerned evaluated for every person concerned (read through the
    exchange, one client per owner and purpose)."""
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
    looked = Looked(persons={code: ref for ref, code in codes.items()})
    outcomes = looked.outcomes
    worked = rules.WorkedValues()  # (the batch's explanations share how values were worked out)
    for (client, purpose), work in groups.items():
        looked.rulesets.update(service.ruleset for service, _ in work)
        with _client(session, client, reading) as calls:
            gatherers: dict[date, Gatherer] = {}
            for _, occurrence in work:
                if occurrence.on not in gatherers:
                    gatherers[occurrence.on] = Gatherer(
                        calls, purpose=purpose, on=occurrence.on, worked=worked
                    )
            _relatives_ahead(session, gatherers, work, codes)
            homes = _households_ahead(gatherers, work)
            _holders_ahead(session, work, homes)
            for decided in _evaluate_work(session, gatherers, work, codes, homes):
                outcomes.extend(decided)
            for home in homes.values():
                looked.persons.update(home.refs)
                looked.households = True
                if home.address_ref is not None:
                    looked.addresses.add(home.address_ref)
            for gatherer in gatherers.values():
                for code in gatherer.facts:
                    if looked.persons.get(code) is None:  # (a relative read: its reference)
                        looked.persons[code] = gatherer.refs.get(code)
    for outcome in outcomes:
        looked.persons.setdefault(outcome.person_code, None)
    return looked


def _finish(
    session: Session,
    reaction: Reaction,
    outcomes: list[Outcome],
    passed: Sequence[PassedOn] = (),
    *,
    events: int,
) -> Reaction:
    """Record the outcomes and send the decision letters (the write half of a reaction)."""
    changes = record_outcomes(session, outcomes)
    note_passed_on(changes, passed)
    reaction.changes.extend(changes)
    reaction.letters = send_decision_letters(session, changes)
    log.info(
        "life_events_handled",
        events=events,
        changes=len(reaction.changes),
        letters=reaction.letters,
    )
    return reaction


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
    codes = resolve_codes(session, _refs(occurrences))
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
    passed = to_surviving_parents(session, ended, deaths, death_refs=death_refs)
    decided = _decide(session, occurrences, codes, reaction, reading=None)
    outcomes = [p.outcome for p in passed] + decided.outcomes
    return _finish(session, reaction, outcomes, passed, events=len(occurrences))
