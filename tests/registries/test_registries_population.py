"""The population register's one-person use cases: persons, births, deaths, names."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from registries_support import ACTOR, Country, adult, assert_refused, event_names, last_event
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.registries import (
    change_name,
    get_person,
    is_valid_personal_code,
    name_history,
    parents_of,
    persons_born_on,
    register_birth,
    register_death,
    register_marriage,
    register_person,
    relations_of,
    residence_history,
    residence_of,
)
from joinedup.registries.codes import complete_personal_code, issuable_serials


def test_register_person_issues_a_code_and_records_name_and_residence(
    session: Session, country: Country
) -> None:
    person = adult(session, country, birth_date=date(1985, 3, 17), sex="F")
    assert is_valid_personal_code(person.personal_code)
    assert person.personal_code.startswith("4850317")
    assert (person.given_names, person.family_name) == ("Anna", "Tamm")
    assert person.residence is not None
    assert person.residence.address.id == country.home
    assert person.residence.valid_from == date(2010, 1, 1)
    assert person.residence.address.municipality_code == "0101"
    payload = last_event(session, "population.person_registered.v1")
    assert payload == {
        "person_id": person.id,
        "resident_since": "2010-01-01",
        "municipality_code": "0101",
    }


def test_the_register_issues_the_next_free_serial(session: Session, country: Country) -> None:
    first = adult(session, country, birth_date=date(1990, 6, 1), sex="M")
    second = adult(session, country, birth_date=date(1990, 6, 1), sex="M", given_names="Karl")
    serials = issuable_serials("3900601")
    assert first.personal_code == complete_personal_code("3900601", serials[0])
    assert second.personal_code == complete_personal_code("3900601", serials[1])


def test_register_person_with_a_given_code(session: Session, country: Country) -> None:
    code = complete_personal_code("3760503", issuable_serials("3760503")[4])
    person = register_person(
        session,
        personal_code=code,
        given_names="Juhan",
        family_name="Kask",
        birth_date=date(1976, 5, 3),
        sex="M",
        birth_place="Riga",
        citizenship="LV",
        actor=ACTOR,
    )
    assert person.personal_code == code
    assert person.residence is None
    assert get_person(session, personal_code=code).id == person.id


def _person(session: Session, country: Country, **changes: object) -> object:
    values: dict[str, object] = {
        "given_names": "Mari",
        "family_name": "Mets",
        "birth_date": date(1990, 2, 1),
        "sex": "F",
        "birth_place": "Port Aldren",
        "citizenship": "XJ",
        "personal_code": complete_personal_code("4900201", issuable_serials("4900201")[0]),
        "address_id": country.home,
        "resident_since": date(2000, 1, 1),
    }
    values.update(changes)
    return register_person(session, **values, actor=ACTOR)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"personal_code": "49002010000"}, "check digit"),
        ({"personal_code": "4900201000"}, "11 digits"),
        ({"birth_date": date(1990, 2, 2)}, "does not match the birth date"),
        ({"sex": "M"}, "does not match the sex"),
        ({"sex": "X"}, "sex: must be one of F, M"),
        ({"given_names": "  "}, "given_names: must not be empty"),
        ({"family_name": "x" * 201}, "family_name: is longer than 200"),
        ({"citizenship": "xj"}, "citizenship"),
        ({"address_id": 999_999}, "address_id: is not a registered address"),
        ({"resident_since": date(1980, 1, 1)}, "resident_since: is before the birth"),
        ({"resident_since": today() + timedelta(days=3)}, "resident_since: is in the future"),
        ({"resident_since": None}, "resident_since: is required with an address"),
    ],
)
def test_register_person_refuses_bad_input(
    session: Session, country: Country, changes: dict[str, object], fragment: str
) -> None:
    error = assert_refused(session, lambda: _person(session, country, **changes), fragment)
    assert "4900201" not in error.detail, "problem documents carry no personal codes"


def test_a_birth_date_in_the_future_is_refused(session: Session, country: Country) -> None:
    future = today() + timedelta(days=40)
    assert_refused(
        session,
        lambda: register_person(
            session,
            given_names="Ada",
            family_name="Kask",
            birth_date=future,
            sex="F",
            birth_place="Sandby",
            citizenship="XJ",
            actor=ACTOR,
        ),
        "birth_date: is in the future",
    )


def test_a_personal_code_is_registered_once(session: Session, country: Country) -> None:
    _person(session, country)
    assert_refused(
        session, lambda: _person(session, country, given_names="Other"), "already registered"
    )


def test_register_birth_links_parents_and_home(session: Session, country: Country) -> None:
    mother = adult(session, country, birth_date=date(1990, 4, 4), address_id=country.flat)
    father = adult(session, country, birth_date=date(1988, 8, 8), sex="M", given_names="Karl")
    born = today() - timedelta(days=10)
    child = register_birth(
        session,
        given_names="Mia",
        family_name="Tamm",
        birth_date=born,
        sex="F",
        birth_place="Port Aldren",
        parent_ids=[mother.id, father.id],
        actor=ACTOR,
    )
    assert is_valid_personal_code(child.personal_code)
    assert child.citizenship == "XJ"
    assert child.residence is not None
    assert child.residence.address.id == country.flat  # the mother's home
    assert child.residence.valid_from == born
    assert sorted(parents_of(session, person_id=child.id)) == sorted([mother.id, father.id])
    assert last_event(session, "population.birth_registered.v1") == {
        "person_id": child.id,
        "birth_date": born.isoformat(),
        "parent_ids": [mother.id, father.id],
        "municipality_code": "0101",
    }


@pytest.mark.parametrize(
    ("scenario", "fragment"),
    [
        ("no parent", "one or two different parents"),
        ("three parents", "one or two different parents"),
        ("unknown parent", "not registered"),
        ("parent younger", "must be older than the child"),
        ("future", "birth_date: is in the future"),
        ("dead mother", "was not alive"),
    ],
)
def test_register_birth_refuses_impossible_births(
    session: Session, country: Country, scenario: str, fragment: str
) -> None:
    mother = adult(session, country, birth_date=date(1990, 4, 4))
    father = adult(session, country, birth_date=date(1988, 8, 8), sex="M")
    other = adult(session, country, birth_date=date(1970, 1, 1))
    parents = {
        "no parent": [],
        "three parents": [mother.id, father.id, other.id],
        "unknown parent": [mother.id, 987_654],
    }.get(scenario, [mother.id])
    birth = date(2020, 1, 1)
    if scenario == "parent younger":
        birth = date(1989, 1, 1)
    if scenario == "future":
        birth = today() + timedelta(days=1)
    if scenario == "dead mother":
        register_death(session, person_id=mother.id, date_of_death=date(2019, 6, 1), actor=ACTOR)
    assert_refused(
        session,
        lambda: register_birth(
            session,
            given_names="Mia",
            family_name="Tamm",
            birth_date=birth,
            sex="F",
            birth_place="Port Aldren",
            parent_ids=parents,
            actor=ACTOR,
        ),
        fragment,
    )


def test_register_death_ends_residence_and_marriage(session: Session, country: Country) -> None:
    wife = adult(session, country, birth_date=date(1950, 1, 1))
    husband = adult(session, country, birth_date=date(1948, 5, 5), sex="M", given_names="Olav")
    marriage = register_marriage(
        session, person_id=wife.id, spouse_id=husband.id, married_on=date(1975, 6, 21), actor=ACTOR
    )
    died = date(2024, 2, 10)
    record = register_death(session, person_id=husband.id, date_of_death=died, actor=ACTOR)
    assert record.date_of_death == died
    assert residence_of(session, person_id=husband.id, valid=died) is None
    lived = residence_of(session, person_id=husband.id, valid=died - timedelta(days=1))
    assert lived is not None
    assert lived.valid_to == died
    assert relations_of(session, person_id=wife.id, valid=died) == []
    [before] = relations_of(session, person_id=wife.id, valid=date(2000, 1, 1))
    assert before.valid_to == died
    assert before.end_reason == "death"
    payload = last_event(session, "population.death_registered.v1")
    assert payload["person_id"] == husband.id
    assert payload["ended_relation_ids"] == [before.id]
    assert before.id != marriage.id, "the ended marriage is a new version"
    # What the register believed before the death was recorded is still there.
    assert residence_history(session, person_id=husband.id)[-1].valid_to == died


@pytest.mark.parametrize(
    ("died", "fragment"),
    [
        (date(1940, 1, 1), "is before the birth date"),
        (None, "in the future"),
    ],
)
def test_register_death_refuses_impossible_dates(
    session: Session, country: Country, died: date | None, fragment: str
) -> None:
    person = adult(session, country, birth_date=date(1950, 1, 1))
    when = died or today() + timedelta(days=2)
    assert_refused(
        session,
        lambda: register_death(session, person_id=person.id, date_of_death=when, actor=ACTOR),
        fragment,
    )


def test_a_death_is_registered_once(session: Session, country: Country) -> None:
    person = adult(session, country, birth_date=date(1950, 1, 1))
    register_death(session, person_id=person.id, date_of_death=date(2020, 1, 1), actor=ACTOR)
    assert_refused(
        session,
        lambda: register_death(
            session, person_id=person.id, date_of_death=date(2021, 1, 1), actor=ACTOR
        ),
        "already registered",
    )
    assert_refused(
        session,
        lambda: register_death(
            session, person_id=424_242, date_of_death=date(2021, 1, 1), actor=ACTOR
        ),
        "not a registered person",
    )


def test_change_name_keeps_the_old_name_in_history(session: Session, country: Country) -> None:
    person = adult(session, country, birth_date=date(1990, 1, 1), family_name="Kask")
    change_name(
        session,
        person_id=person.id,
        given_names="Anna",
        family_name="Saar",
        valid_from=date(2015, 7, 1),
        actor=ACTOR,
    )
    assert get_person(session, person_id=person.id).family_name == "Saar"
    assert get_person(session, person_id=person.id, valid=date(2015, 6, 30)).family_name == "Kask"
    assert [n.family_name for n in name_history(session, person_id=person.id)] == ["Kask", "Saar"]
    assert "population.name_changed.v1" in event_names(session)
    assert_refused(
        session,
        lambda: change_name(
            session,
            person_id=person.id,
            given_names="",
            family_name="Saar",
            valid_from=date(1980, 1, 1),
            actor=ACTOR,
        ),
        "given_names: must not be empty",
        "valid_from: is before the birth date",
    )


def test_persons_born_on_a_day(session: Session, country: Country) -> None:
    woman = adult(session, country, birth_date=date(2008, 11, 2))
    man = adult(session, country, birth_date=date(2008, 11, 2), sex="M")
    adult(session, country, birth_date=date(2008, 11, 3))
    assert sorted(persons_born_on(session, birth_date=date(2008, 11, 2))) == sorted(
        [woman.id, man.id]
    )


def test_when_no_code_can_be_issued_only_the_cause_is_named(
    session: Session, country: Country
) -> None:
    error = assert_refused(
        session,
        lambda: register_person(
            session,
            given_names="Ada",
            family_name="Kask",
            birth_date=date(1990, 1, 1),
            sex="X",
            birth_place="Sandby",
            citizenship="XJ",
            actor=ACTOR,
        ),
        "sex: must be one of F, M",
    )
    assert "personal_code" not in error.detail
