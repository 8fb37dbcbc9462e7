"""How the proactive services react to the registries' life events, and the daily job that
announces who reaches an age that matters.

Each ``handle_*`` takes a list of delivered events and handles them in the caller's one
transaction: the consumers below are batch consumers (up to :data:`BATCH` events per
transaction; a failing batch is handled again one event at a time, so a poison event is
dead-lettered alone), and the inbox makes every event count once.

- ``population.birth_registered.v1``: the newborn's parents (child benefit, birth grant,
  parental benefit).
- ``population.death_registered.v1``: the deceased's entitlements end (the pension first).
- ``population.marriage_registered.v1``, ``population.address_changed.v1``,
  ``employment.ended.v1``: the services concerned for the persons concerned.
- ``consent.given.v1``: the services that waited for the person's consent decide now (and
  those a withdrawal ended are considered again).
- ``consent.withdrawn.v1``: what was granted or offered under the consent ends.
- ``population.age_reached.v1``: turning 6 (school place), 18 (child benefit for the rest of
  the family), pension age (the pension offer). The daily job ``proactive.ages`` asks the
  population register to announce them, once per day across every worker.
- The daily job ``proactive.offers``: offers not accepted in the time their service gives
  (``respond_within_days`` in the catalogue) lapse, each with a letter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, time

from sqlalchemy.orm import Session

from joinedup import consent, registries, rules
from joinedup.catalogue import LifeEvent
from joinedup.consent import ConsentGiven, ConsentWithdrawn
from joinedup.core.consumers import consumer
from joinedup.core.db import Database
from joinedup.core.errors import NotFound
from joinedup.core.events import Delivered
from joinedup.core.schedule import daily
from joinedup.proactive.service import (
    Decided,
    Occurrence,
    Reaction,
    decide_life_events,
    end_after_consent_withdrawn,
    lapse_offers,
    react,
    reconsider_after_consent,
)
from joinedup.registries.events import (
    AddressChanged,
    AgeReached,
    BirthRegistered,
    DeathRegistered,
    EmploymentEnded,
    MarriageRegistered,
)

#: Coming of age.
MAJORITY = 18
#: Events handled together in one transaction (a failing batch is retried one at a time).
BATCH = 100


def _day(value: object) -> date:
    return date.fromisoformat(str(value))


def _parameter(path: str, on: date) -> int:
    """A whole-number parameter of the demo ruleset in force on ``on`` (0 when none is)."""
    found = rules.get_ruleset("demo").parameters.get(path)
    dated = found.at(on)
    if dated is None or isinstance(dated, tuple) or dated.value is None:
        return 0
    return int(dated.value)


def pension_age(on: date) -> int:
    """The pension age in force on ``on`` (the demo ruleset's dated parameter)."""
    return _parameter("pensions.pension_age", on)


def school_age(on: date) -> int:
    """The age a child starts school at (by 1 September)."""
    return _parameter("education.school_starting_age", on)


def _age_event(age: int, on: date) -> LifeEvent | None:
    if age == pension_age(on):
        return LifeEvent.PENSION_AGE
    if age == MAJORITY:
        return LifeEvent.AGE_18
    if age == school_age(on):
        return LifeEvent.AGE_6
    return None


def occurrence_of(event: Delivered) -> Occurrence | None:
    """The life event a registry event is (None for events the proactive services ignore)."""
    p, event_id = event.payload, event.event_id
    if event.name == BirthRegistered.name:
        return Occurrence(
            life_event=LifeEvent.BIRTH,
            event_id=event_id,
            on=_day(p["birth_date"]),
            person_ref=int(p["person_id"]),
            parent_refs=tuple(int(r) for r in p.get("parent_ids") or ()),
            municipality_code=p.get("municipality_code"),
        )
    if event.name == DeathRegistered.name:
        return Occurrence(
            life_event=LifeEvent.DEATH,
            event_id=event_id,
            on=_day(p["date_of_death"]),
            person_ref=int(p["person_id"]),
        )
    if event.name == MarriageRegistered.name:
        first, second = (int(r) for r in p["person_ids"])
        return Occurrence(
            life_event=LifeEvent.MARRIAGE,
            event_id=event_id,
            on=_day(p["married_on"]),
            person_ref=first,
            spouse_ref=second,
        )
    if event.name == AddressChanged.name:
        return Occurrence(
            life_event=LifeEvent.ADDRESS_CHANGE,
            event_id=event_id,
            on=_day(p["moved_on"]),
            person_ref=int(p["person_id"]),
            municipality_code=p.get("municipality_code"),
        )
    if event.name == EmploymentEnded.name:
        return Occurrence(
            life_event=LifeEvent.EMPLOYMENT_ENDED,
            event_id=event_id,
            on=_day(p["ended_on"]),
            person_ref=int(p["person_id"]),
        )
    if event.name == AgeReached.name:
        on = _day(p["reached_on"])
        life_event = _age_event(int(p["age"]), on)
        if life_event is None:
            return None
        return Occurrence(
            life_event=life_event,
            event_id=event_id,
            on=on,
            person_ref=int(p["person_id"]),
            municipality_code=p.get("municipality_code"),
        )
    return None


def handle_life_events(session: Session, events: Sequence[Delivered]) -> Reaction:
    """React to a list of registry events in one transaction (see the module docstring)."""
    found = (occurrence_of(event) for event in events)
    return react(session, [o for o in found if o is not None])


def prepare_life_events(
    session: Session, events: Sequence[Delivered], database: Database
) -> Decided | None:
    """The first phase of the life-event consumers but deaths', in a read-only transaction
    (:func:`~joinedup.proactive.service.decide_life_events`): reading and evaluating hold no
    write lock; the consumer's write transaction records what was decided, or handles the
    events again if what they rest on changed meanwhile
    (:class:`joinedup.proactive.service.prepared.Basis`). ``database``: where a member's
    first signing key is created."""
    found = (occurrence_of(event) for event in events)
    return decide_life_events(session, [o for o in found if o is not None], key_database=database)


# One name per kind of life event, so each consumer reads as what it handles.
handle_births = handle_deaths = handle_marriages = handle_life_events
handle_moves = handle_employment_ended = handle_ages_reached = handle_life_events


@consumer(
    "proactive.births", events=[BirthRegistered.name], batch=BATCH, prepare=prepare_life_events
)
def on_birth(session: Session, events: list[Delivered]) -> None:
    handle_births(session, events)


@consumer("proactive.deaths", events=[DeathRegistered.name], batch=BATCH)
def on_death(session: Session, events: list[Delivered]) -> None:
    handle_deaths(session, events)


@consumer(
    "proactive.marriages",
    events=[MarriageRegistered.name],
    batch=BATCH,
    prepare=prepare_life_events,
)
def on_marriage(session: Session, events: list[Delivered]) -> None:
    handle_marriages(session, events)


@consumer(
    "proactive.moves",
    events=[AddressChanged.name],
    batch=BATCH,
    prepare=prepare_life_events,
)
def on_move(session: Session, events: list[Delivered]) -> None:
    handle_moves(session, events)


@consumer(
    "proactive.employment-ended",
    events=[EmploymentEnded.name],
    batch=BATCH,
    prepare=prepare_life_events,
)
def on_employment_ended(session: Session, events: list[Delivered]) -> None:
    handle_employment_ended(session, events)


@consumer(
    "proactive.ages",
    events=[AgeReached.name],
    batch=BATCH,
    prepare=prepare_life_events,
)
def on_age_reached(session: Session, events: list[Delivered]) -> None:
    handle_ages_reached(session, events)


@consumer("proactive.consents", events=[ConsentGiven.name], batch=BATCH)
def on_consent_given(session: Session, events: list[Delivered]) -> None:
    """A consent given lets the services that waited for it read and decide."""
    handle_consents_given(session, events)


def _consent_records(
    session: Session, events: Sequence[Delivered]
) -> Iterator[tuple[Delivered, consent.ConsentRecordView]]:
    """Each consent event with the consent record it names, as the register has it now (an
    event whose record is gone is left out)."""
    for event in events:
        try:
            yield (
                event,
                consent.get_consent_record(
                    session, consent_record_id=str(event.payload["consent_record_id"])
                ).consent_record,
            )
        except NotFound:
            continue


def handle_consents_given(session: Session, events: Sequence[Delivered]) -> None:
    for event, record in _consent_records(session, events):
        if record.in_force:
            reconsider_after_consent(
                session,
                subject_code=record.individual_id,
                agreement_id=record.data_agreement_id,
                event_id=event.event_id,
            )


@consumer("proactive.consent-withdrawals", events=[ConsentWithdrawn.name], batch=BATCH)
def on_consent_withdrawn(session: Session, events: list[Delivered]) -> None:
    """A consent withdrawn ends what was granted or offered under it."""
    handle_consents_withdrawn(session, events)


def handle_consents_withdrawn(session: Session, events: Sequence[Delivered]) -> None:
    for event, record in _consent_records(session, events):
        if record.in_force:  # given again since: what it was given for stands
            continue
        end_after_consent_withdrawn(
            session,
            subject_code=record.individual_id,
            agreement_id=record.data_agreement_id,
            on=event.occurred_at.date(),
            event_id=event.event_id,
        )


def announce_ages(session: Session, on: date) -> str:
    """The daily job: the population register announces who turns 6, 18 or pension age on
    ``on`` (one ``population.age_reached.v1`` each); the consumer above reacts."""
    ages = sorted({school_age(on), MAJORITY, pension_age(on)} - {0})
    count = registries.announce_ages_reached(session, on=on, ages=ages)
    return f"{count} persons reached {', '.join(map(str, ages))}"


daily("proactive.ages", at=time(0, 5))(announce_ages)


def lapse_offers_of_the_day(session: Session, on: date) -> str:
    """The daily job: the offers not accepted in the time their service gives lapse, each
    with a letter (:func:`joinedup.proactive.service.lapse_offers`)."""
    return f"{lapse_offers(session, on=on)} offers lapsed"


daily("proactive.offers", at=time(0, 10))(lapse_offers_of_the_day)

__all__ = [
    "announce_ages",
    "handle_ages_reached",
    "handle_births",
    "handle_consents_given",
    "handle_consents_withdrawn",
    "handle_deaths",
    "handle_employment_ended",
    "handle_life_events",
    "handle_marriages",
    "handle_moves",
    "lapse_offers_of_the_day",
    "occurrence_of",
    "pension_age",
    "prepare_life_events",
]
