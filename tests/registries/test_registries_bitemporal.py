"""Bitemporal records: "where did P live on V, as the register knew it at K"."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from registries_support import ACTOR, Country, adult, assert_refused, last_event, make_country
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.db import Database
from joinedup.core.errors import NotFound
from joinedup.registries import (
    as_of,
    change_address,
    correct_residence,
    get_person,
    residence_history,
    residence_of,
)
from joinedup.registries.models import Residence


def moment() -> datetime:
    """The current instant, strictly after anything recorded before it and before anything
    recorded after it."""
    time.sleep(0.002)
    instant = utcnow()
    time.sleep(0.002)
    return instant


def where(
    session: Session, person_id: int, valid: date, known: datetime | date | None
) -> int | None:
    found = residence_of(session, person_id=person_id, valid=valid, known=known)
    return found.address.id if found else None


def periods(
    session: Session, person_id: int, known: datetime | None = None
) -> list[tuple[int, date, date | None]]:
    return [
        (r.address.id, r.valid_from, r.valid_to)
        for r in residence_history(session, person_id=person_id, known=known)
    ]


def test_a_move_and_its_retroactive_correction(session: Session, country: Country) -> None:
    person = adult(session, country, resident_since=date(2010, 1, 1))
    t0 = moment()
    change_address(
        session,
        person_id=person.id,
        address_id=country.flat,
        moved_on=date(2025, 3, 20),
        actor=ACTOR,
    )
    t1 = moment()
    # Later the register learns the move really happened on 15 February.
    correct_residence(
        session,
        person_id=person.id,
        address_id=country.flat,
        valid_from=date(2025, 2, 15),
        valid_to=None,
        actor=ACTOR,
    )
    t2 = moment()
    march = date(2025, 3, 1)
    assert where(session, person.id, march, t0) == country.home
    assert where(session, person.id, march, t1) == country.home, "as known before the correction"
    assert where(session, person.id, march, t2) == country.flat, "as known after it"
    assert where(session, person.id, march, None) == country.flat
    assert where(session, person.id, date(2025, 4, 1), t0) == country.home, "the move was not known"
    assert where(session, person.id, date(2025, 4, 1), t1) == country.flat
    assert where(session, person.id, date(2009, 12, 31), None) is None, "before moving in"
    assert periods(session, person.id, t0) == [(country.home, date(2010, 1, 1), None)]
    assert periods(session, person.id, t1) == [
        (country.home, date(2010, 1, 1), date(2025, 3, 20)),
        (country.flat, date(2025, 3, 20), None),
    ]
    assert periods(session, person.id) == [
        (country.home, date(2010, 1, 1), date(2025, 2, 15)),
        (country.flat, date(2025, 2, 15), None),
    ]
    assert last_event(session, "population.residence_corrected.v1") == {
        "person_id": person.id,
        "valid_from": "2025-02-15",
        "valid_to": None,
    }


def test_correcting_a_period_in_the_middle_keeps_both_sides(
    session: Session, country: Country
) -> None:
    person = adult(session, country, resident_since=date(2010, 1, 1))
    change_address(
        session,
        person_id=person.id,
        address_id=country.flat,
        moved_on=date(2024, 1, 1),
        actor=ACTOR,
    )
    before = moment()
    correct_residence(
        session,
        person_id=person.id,
        address_id=country.farm,
        valid_from=date(2018, 1, 1),
        valid_to=date(2019, 6, 1),
        actor=ACTOR,
    )
    correct_residence(
        session,
        person_id=person.id,
        address_id=None,
        valid_from=date(2012, 1, 1),
        valid_to=date(2012, 3, 1),
        actor=ACTOR,
    )
    assert periods(session, person.id) == [
        (country.home, date(2010, 1, 1), date(2012, 1, 1)),
        (country.home, date(2012, 3, 1), date(2018, 1, 1)),
        (country.farm, date(2018, 1, 1), date(2019, 6, 1)),
        (country.home, date(2019, 6, 1), date(2024, 1, 1)),
        (country.flat, date(2024, 1, 1), None),
    ]
    assert where(session, person.id, date(2012, 2, 1), None) is None
    assert where(session, person.id, date(2012, 2, 1), before) == country.home
    assert where(session, person.id, date(2018, 6, 1), before) == country.home
    assert where(session, person.id, date(2018, 6, 1), None) == country.farm


def test_the_boundaries_are_half_open(session: Session, country: Country) -> None:
    person = adult(session, country, resident_since=date(2010, 1, 1))
    change_address(
        session,
        person_id=person.id,
        address_id=country.flat,
        moved_on=date(2020, 5, 5),
        actor=ACTOR,
    )
    assert where(session, person.id, date(2020, 5, 4), None) == country.home
    assert where(session, person.id, date(2020, 5, 5), None) == country.flat
    assert where(session, person.id, date(2010, 1, 1), None) == country.home


def test_known_as_a_date_means_the_end_of_that_day(session: Session, country: Country) -> None:
    person = adult(session, country, resident_since=date(2010, 1, 1))
    assert where(session, person.id, date(2015, 1, 1), today()) == country.home
    assert where(session, person.id, date(2015, 1, 1), today() - timedelta(days=1)) is None
    with pytest.raises(NotFound):
        get_person(session, person_id=person.id, known=today() - timedelta(days=1))
    assert get_person(session, person_id=person.id, known=today()).id == person.id


def test_a_death_is_known_from_when_it_was_recorded(session: Session, country: Country) -> None:
    from joinedup.registries import register_death

    person = adult(session, country, birth_date=date(1940, 1, 1))
    before = moment()
    register_death(session, person_id=person.id, date_of_death=date(2023, 3, 3), actor=ACTOR)
    assert get_person(session, person_id=person.id, known=before).date_of_death is None
    assert get_person(session, person_id=person.id).date_of_death == date(2023, 3, 3)
    assert where(session, person.id, date(2023, 6, 1), before) == country.home
    assert where(session, person.id, date(2023, 6, 1), None) is None


def test_as_of_is_a_plain_filter(session: Session, country: Country) -> None:
    person = adult(session, country, resident_since=date(2010, 1, 1))
    change_address(
        session,
        person_id=person.id,
        address_id=country.farm,
        moved_on=date(2022, 2, 2),
        actor=ACTOR,
    )
    rows = session.scalars(
        select(Residence.address_id).where(
            Residence.person_id == person.id, as_of(Residence, valid=date(2021, 1, 1), known=None)
        )
    ).all()
    assert rows == [country.home]
    every_version = session.scalars(
        select(Residence.id).where(Residence.person_id == person.id)
    ).all()
    assert len(every_version) == 3, "the original, its closed copy and the new residence"


def test_naive_known_times_are_refused(session: Session, country: Country) -> None:
    person = adult(session, country)
    with pytest.raises(ValueError, match="timezone-aware"):
        residence_of(session, person_id=person.id, known=datetime(2025, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    ("scenario", "fragment"),
    [
        ("same address", "already lives at this address"),
        ("before the last move", "correct_residence"),
        ("future", "moved_on: is in the future"),
        ("unknown address", "address_id: is not a registered address"),
        ("before birth", "moved_on: is before the birth date"),
    ],
)
def test_change_address_refuses(
    session: Session, country: Country, scenario: str, fragment: str
) -> None:
    person = adult(session, country, birth_date=date(1985, 3, 17), resident_since=date(2010, 1, 1))
    address, moved = country.flat, date(2020, 1, 1)
    if scenario == "same address":
        address = country.home
    elif scenario == "before the last move":
        moved = date(2009, 6, 1)
    elif scenario == "future":
        moved = today() + timedelta(days=5)
    elif scenario == "unknown address":
        address = 555_555
    elif scenario == "before birth":
        moved = date(1980, 1, 1)
    assert_refused(
        session,
        lambda: change_address(
            session, person_id=person.id, address_id=address, moved_on=moved, actor=ACTOR
        ),
        fragment,
    )


def test_correct_residence_refuses_periods_after_death(session: Session, country: Country) -> None:
    from joinedup.registries import register_death

    person = adult(session, country, birth_date=date(1940, 1, 1))
    register_death(session, person_id=person.id, date_of_death=date(2020, 1, 1), actor=ACTOR)
    assert_refused(
        session,
        lambda: correct_residence(
            session,
            person_id=person.id,
            address_id=country.flat,
            valid_from=date(2019, 1, 1),
            valid_to=None,
            actor=ACTOR,
        ),
        "at the latest on the date of death",
    )
    assert_refused(
        session,
        lambda: correct_residence(
            session,
            person_id=person.id,
            address_id=country.flat,
            valid_from=date(2019, 1, 1),
            valid_to=date(2018, 1, 1),
            actor=ACTOR,
        ),
        "valid_to: must be after valid_from",
    )


@pytest.fixture
def captured(sqlite_database: Database) -> Iterator[tuple[Session, list[tuple[str, Any]]]]:
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        statements.append((statement, parameters))

    event.listen(sqlite_database.engine, "before_cursor_execute", capture)
    with sqlite_database.unit_of_work() as session:
        yield session, statements
    event.remove(sqlite_database.engine, "before_cursor_execute", capture)


def _plan(session: Session, statement: str, parameters: Any) -> str:
    rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
    return " | ".join(str(row[-1]) for row in rows)


def test_as_of_queries_use_the_person_indexes(
    captured: tuple[Session, list[tuple[str, Any]]],
) -> None:
    session, statements = captured
    country = make_country(session)
    person = adult(session, country)
    statements.clear()
    residence_of(session, person_id=person.id, valid=date(2020, 1, 1), known=utcnow())
    sql, parameters = next(s for s in statements if "FROM residence" in s[0])
    assert "USING INDEX ix_residence_person" in _plan(session, sql, parameters)


def test_incomes_as_known_use_the_partial_indexes(
    captured: tuple[Session, list[tuple[str, Any]]],
) -> None:
    from joinedup.registries import incomes_of

    session, statements = captured
    statements.clear()
    incomes_of(session, person_id=1, from_period="2025-01", to_period="2025-12", known=utcnow())
    sql, parameters = next(s for s in statements if "monthly_income" in s[0])
    plan = _plan(session, sql, parameters)
    assert "uq_monthly_income_current" in plan
    assert "ix_monthly_income_superseded" in plan
    assert "SCAN monthly_income" not in plan
