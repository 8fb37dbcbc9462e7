"""Many deaths at once (the civil-registration entry point's group commit): each death as
``register_death`` would register or refuse it, the common ones written together."""

from __future__ import annotations

from datetime import date, timedelta

from registries_support import ACTOR, Country, adult, counts
from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.errors import ValidationFailed
from joinedup.core.outbox import OutboxEvent
from joinedup.registries import (
    DeathRegistration,
    RegisteredDeath,
    change_address,
    get_person,
    register_deaths,
    register_marriage,
    relations_of,
    residence_history,
    residence_of,
)


def _death(person_id: int, day: date) -> DeathRegistration:
    return DeathRegistration(person_id=person_id, date_of_death=day, actor=ACTOR)


def _events(session: Session) -> list[dict[str, object]]:
    session.flush()
    return [
        dict(p)
        for p in session.scalars(
            select(OutboxEvent.payload)
            .where(OutboxEvent.name == "population.death_registered.v1")
            .order_by(OutboxEvent.id)
        )
    ]


def test_a_group_of_deaths_ends_homes_and_marriages_as_register_death_does(
    session: Session, country: Country
) -> None:
    wife = adult(session, country, birth_date=date(1950, 1, 1), address_id=country.flat)
    husband = adult(session, country, birth_date=date(1948, 5, 5), sex="M", given_names="Olav")
    marriage = register_marriage(
        session, person_id=wife.id, spouse_id=husband.id, married_on=date(1975, 6, 21), actor=ACTOR
    )
    widow = adult(session, country, birth_date=date(1940, 2, 2))
    died = date(2024, 2, 10)

    results = register_deaths(session, deaths=[_death(husband.id, died), _death(widow.id, died)])

    assert all(isinstance(r, RegisteredDeath) for r in results)
    first = results[0]
    assert isinstance(first, RegisteredDeath)
    assert get_person(session, person_id=husband.id).date_of_death == died
    assert residence_of(session, person_id=husband.id, valid=died) is None
    lived = residence_of(session, person_id=husband.id, valid=died - timedelta(days=1))
    assert lived is not None
    assert lived.valid_to == died
    assert residence_history(session, person_id=husband.id)[-1].valid_to == died
    assert relations_of(session, person_id=wife.id, valid=died) == []
    [before] = relations_of(session, person_id=wife.id, valid=date(2000, 1, 1))
    assert (before.valid_to, before.end_reason) == (died, "death")
    assert before.id != marriage.id, "the ended marriage is a new version"
    assert first.ended_relation_ids == (before.id,)
    events = _events(session)[-2:]
    assert events == [
        {
            "person_id": husband.id,
            "date_of_death": died.isoformat(),
            "ended_relation_ids": [before.id],
        },
        {"person_id": widow.id, "date_of_death": died.isoformat(), "ended_relation_ids": []},
    ]


def test_a_death_that_would_be_refused_is_refused_as_alone_and_the_others_registered(
    session: Session, country: Country
) -> None:
    young = adult(session, country, birth_date=date(1990, 1, 1))
    mover = adult(session, country, birth_date=date(1970, 1, 1), address_id=country.home)
    change_address(
        session, person_id=mover.id, address_id=country.flat, moved_on=date(2024, 5, 1), actor=ACTOR
    )
    fine = adult(session, country, birth_date=date(1960, 3, 3))
    dead = adult(session, country, birth_date=date(1955, 3, 3))
    register_deaths(session, deaths=[_death(dead.id, date(2020, 1, 1))])
    before = counts(session)

    results = register_deaths(
        session,
        deaths=[
            _death(young.id, date(1980, 1, 1)),  # before the birth
            _death(young.id, today() + timedelta(days=2)),  # in the future
            _death(mover.id, date(2024, 1, 1)),  # before a registered move
            _death(dead.id, date(2021, 1, 1)),  # dead already
            _death(fine.id, date(2024, 7, 7)),
            _death(fine.id, date(2024, 7, 8)),  # the same person twice: the second refused
        ],
    )

    refusals = {i: r for i, r in enumerate(results) if isinstance(r, ValidationFailed)}
    assert sorted(refusals) == [0, 1, 2, 3, 5]
    assert "is before the birth date" in refusals[0].detail
    assert "in the future" in refusals[1].detail
    assert "registered move" in refusals[2].detail
    assert "already registered" in refusals[3].detail
    assert "already registered" in refusals[5].detail
    assert isinstance(results[4], RegisteredDeath)
    assert get_person(session, person_id=fine.id).date_of_death == date(2024, 7, 7)
    assert get_person(session, person_id=young.id).date_of_death is None
    after = counts(session)
    assert after["outbox_event"] - before["outbox_event"] == 1


def test_both_spouses_dying_in_one_group_end_their_marriage_once(
    session: Session, country: Country
) -> None:
    wife = adult(session, country, birth_date=date(1950, 1, 1))
    husband = adult(session, country, birth_date=date(1948, 5, 5), sex="M")
    register_marriage(
        session, person_id=wife.id, spouse_id=husband.id, married_on=date(1975, 6, 21), actor=ACTOR
    )
    results = register_deaths(
        session, deaths=[_death(husband.id, date(2024, 2, 10)), _death(wife.id, date(2024, 3, 1))]
    )
    assert all(isinstance(r, RegisteredDeath) for r in results)
    [ended] = relations_of(session, person_id=wife.id, valid=date(2000, 1, 1))
    assert (ended.valid_to, ended.end_reason) == (date(2024, 2, 10), "death")
    first, second = results
    assert isinstance(first, RegisteredDeath)
    assert isinstance(second, RegisteredDeath)
    assert first.ended_relation_ids == (ended.id,)
    assert second.ended_relation_ids == ()
