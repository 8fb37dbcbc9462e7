"""Batch imports: the same rules as the one-record use cases, all or nothing, one event."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest
from registries_support import ACTOR, Country, adult, assert_refused, event_names, last_event
from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.registries import (
    AddressColumns,
    BusinessColumns,
    EmploymentColumns,
    IncomeColumns,
    PersonColumns,
    RelationColumns,
    RepresentativeColumns,
    get_person,
    import_addresses,
    import_businesses,
    import_employment,
    import_payment_accounts,
    import_population,
    import_representatives,
    incomes_of,
    issue_personal_codes,
    name_history,
    register_business,
    register_person,
    relations_of,
    residence_history,
)
from joinedup.registries.models import Relation

NaT = np.datetime64("NaT", "D")


def d(*values: str | None) -> np.ndarray:
    return np.array(
        [NaT if v is None else np.datetime64(v, "D") for v in values], dtype="datetime64[D]"
    )


def family(country: Country, **overrides: Any) -> dict[str, Any]:
    """A grandmother (widowed), her late husband, a married couple and their two children."""
    births = d("1940-02-02", "1938-03-03", "1975-04-04", "1973-05-05", "2005-06-06", "2010-07-07")
    sexes = np.array(["F", "M", "F", "M", "M", "F"])
    columns: dict[str, Any] = {
        "personal_code": issue_personal_codes(births, sexes, np.zeros(6, dtype=np.int64)),
        "given_names": np.array(["Helmi", "Aarne", "Liisa", "Jonas", "Oskar", "Ida"]),
        "family_name": np.array(["Kask", "Kask", "Mets", "Mets", "Mets", "Mets"]),
        "birth_family_name": np.array(["Saar", "", "Kask", "", "", ""]),
        "name_changed_on": d("1960-06-01", None, "2000-08-08", None, None, None),
        "birth_date": births,
        "birth_place": np.array(["Sandby"] * 6),
        "sex": sexes,
        "citizenship": np.array(["XJ"] * 6),
        "date_of_death": d(None, "2019-09-09", None, None, None, None),
        "address_id": np.array(
            [country.farm, country.farm, country.home, country.home, country.home, country.home]
        ),
        "resident_since": d(
            "1965-01-01", "1965-01-01", "2001-01-01", "2001-01-01", "2005-06-06", "2010-07-07"
        ),
    }
    columns.update(overrides)
    return columns


def relations(**overrides: Any) -> RelationColumns:
    columns: dict[str, Any] = {
        "kind": np.array(["spouse", "parent", "spouse", "parent", "parent", "parent", "parent"]),
        "person": np.array([0, 0, 2, 2, 3, 2, 3]),
        "related": np.array([1, 2, 3, 4, 4, 5, 5]),
        "valid_from": d(
            "1960-06-01",
            "1975-04-04",
            "2000-08-08",
            "2005-06-06",
            "2005-06-06",
            "2010-07-07",
            "2010-07-07",
        ),
        "valid_to": d("2019-09-09", None, None, None, None, None, None),
        "end_reason": np.array(["death", "", "", "", "", "", ""]),
    }
    columns.update(overrides)
    return RelationColumns(**columns)


def test_import_population(session: Session, country: Country) -> None:
    ids = import_population(
        session, persons=PersonColumns(**family(country)), relations=relations(), actor=ACTOR
    )
    assert len(ids) == 6
    grandmother, grandfather, mother = (get_person(session, person_id=int(i)) for i in ids[:3])
    assert grandmother.family_name == "Kask"
    assert [n.family_name for n in name_history(session, person_id=grandmother.id)] == [
        "Saar",
        "Kask",
    ]
    assert grandfather.date_of_death == date(2019, 9, 9)
    assert grandfather.residence is None
    assert residence_history(session, person_id=grandfather.id)[0].valid_to == date(2019, 9, 9)
    assert mother.residence is not None
    assert mother.residence.address.id == country.home
    [widowhood] = relations_of(
        session, person_id=grandmother.id, valid=date(2000, 1, 1), kinds=None
    )[:1]
    assert widowhood.end_reason == "death"
    spouses = session.scalars(select(Relation).where(Relation.kind == "spouse")).all()
    assert all(r.person_id < r.related_person_id for r in spouses)
    names = event_names(session)
    assert names.count("population.imported.v1") == 1
    assert "population.birth_registered.v1" not in names, "imported people were not born today"
    assert last_event(session, "population.imported.v1") == {
        "persons": 6,
        "deceased": 1,
        "relations": 7,
        "residences": 6,
        "first_person_id": int(ids[0]),
        "last_person_id": int(ids[-1]),
    }


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            {"personal_code": np.array(["49002010000"] * 6)},
            "persons.personal_code: has a wrong check digit",
        ),
        (
            {"sex": np.array(["F", "M", "F", "M", "M", "M"])},
            "persons.sex: does not match the sex in the personal code (rows 5)",
        ),
        (
            {"date_of_death": d(None, "1930-01-01", None, None, None, None)},
            "persons.date_of_death: is before the birth date (rows 1)",
        ),
        (
            {"address_id": np.array([1, 1, 999, 999, 999, 999])},
            "persons.address_id: is not a registered address (rows 2, 3, 4, 5)",
        ),
        (
            {"name_changed_on": d(None, None, "2000-08-08", None, None, None)},
            "persons.name_changed_on: is required when a birth family name is given (rows 0)",
        ),
    ],
)
def test_one_bad_person_refuses_the_whole_batch(
    session: Session, country: Country, overrides: dict[str, Any], fragment: str
) -> None:
    persons = PersonColumns(**family(country, **overrides))
    assert_refused(
        session,
        lambda: import_population(session, persons=persons, relations=relations(), actor=ACTOR),
        fragment,
    )


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (
            {"person": np.array([0, 0, 2, 2, 3, 2, 9])},
            "must be the row index of a person of this batch",
        ),
        (
            {"person": np.array([0, 4, 2, 2, 3, 2, 3]), "related": np.array([1, 0, 3, 4, 4, 5, 5])},
            "relations.parent: must be older than the child (rows 1)",
        ),
        (
            {
                "valid_from": d(
                    "1950-06-01",
                    "1975-04-04",
                    "2000-08-08",
                    "2005-06-06",
                    "2005-06-06",
                    "2010-07-07",
                    "2010-07-07",
                )
            },
            "at least 18 years old to marry (rows 0)",
        ),
        (
            {
                "valid_to": d(None, None, None, None, None, None, None),
                "end_reason": np.array([""] * 7),
            },
            "at the latest on the death of one of the persons (rows 0)",
        ),
        (
            {
                "kind": np.array(
                    ["spouse", "parent", "spouse", "parent", "parent", "parent", "spouse"]
                ),
                "end_reason": np.array(["death", "", "", "", "", "", ""]),
            },
            "two marriages or partnerships at the same time",
        ),
        (
            {
                "kind": np.array(
                    ["friend", "parent", "spouse", "parent", "parent", "parent", "parent"]
                )
            },
            "relations.kind: must be one of",
        ),
    ],
)
def test_one_bad_relation_refuses_the_whole_batch(
    session: Session, country: Country, overrides: dict[str, Any], fragment: str
) -> None:
    persons = PersonColumns(**family(country))
    assert_refused(
        session,
        lambda: import_population(
            session, persons=persons, relations=relations(**overrides), actor=ACTOR
        ),
        fragment,
    )


def test_codes_must_be_new_and_unique(session: Session, country: Country) -> None:
    columns = family(country)
    duplicated = columns["personal_code"].copy()
    duplicated[1] = duplicated[0]
    assert_refused(
        session,
        lambda: import_population(
            session,
            persons=PersonColumns(**family(country, personal_code=duplicated)),
            relations=relations(),
            actor=ACTOR,
        ),
        "persons.personal_code: appears more than once in the input (rows 1)",
    )
    register_person(
        session,
        personal_code=str(columns["personal_code"][4]),
        given_names="Oskar",
        family_name="Mets",
        birth_date=date(2005, 6, 6),
        sex="M",
        birth_place="Sandby",
        citizenship="XJ",
        actor=ACTOR,
    )
    assert_refused(
        session,
        lambda: import_population(
            session, persons=PersonColumns(**columns), relations=relations(), actor=ACTOR
        ),
        "some personal codes are already registered",
    )


def test_the_batch_and_the_single_use_case_say_the_same(session: Session, country: Country) -> None:
    """The rules are one set of functions: a bad birth date reads the same both ways."""
    columns = family(
        country,
        birth_date=d(
            "1940-02-03", "1938-03-03", "1975-04-04", "1973-05-05", "2005-06-06", "2010-07-07"
        ),
    )
    batch = assert_refused(
        session,
        lambda: import_population(
            session, persons=PersonColumns(**columns), relations=relations(), actor=ACTOR
        ),
        "does not match the birth date",
    )
    single = assert_refused(
        session,
        lambda: register_person(
            session,
            personal_code=str(columns["personal_code"][0]),
            given_names="Helmi",
            family_name="Kask",
            birth_date=date(1940, 2, 3),
            sex="F",
            birth_place="Sandby",
            citizenship="XJ",
            actor=ACTOR,
        ),
        "does not match the birth date",
    )
    assert batch.extensions["errors"][0]["message"] == single.extensions["errors"][0]["message"]


def test_import_addresses_all_or_nothing(session: Session, country: Country) -> None:
    addresses = AddressColumns(
        municipality_code=np.array(["0101", "0102", "0101"]),
        street=np.array(["Lake Street", "Meadow Way", "Pine Street"]),
        house_number=np.array(["1", "2", "3"]),
        apartment=np.array(["", "5", ""]),
        postcode=np.array(["10103", "10202", "10104"]),
    )
    ids = import_addresses(session, addresses=addresses, actor=ACTOR)
    assert len(ids) == 3
    assert last_event(session, "addresses.imported.v1")["addresses"] == 3
    bad = AddressColumns(
        municipality_code=np.array(["0101", "7777"]),
        street=np.array(["Lake Street", "Meadow Way"]),
        house_number=np.array(["1", "2"]),
        apartment=np.array(["", ""]),
        postcode=np.array(["10103", "1020"]),
    )
    assert_refused(
        session,
        lambda: import_addresses(session, addresses=bad, actor=ACTOR),
        "addresses.postcode: must be 5 digits (rows 1)",
        "addresses.municipality_code: is not a registered municipality (rows 1)",
    )


def _economy(session: Session, country: Country) -> tuple[np.ndarray, int]:
    ids = import_population(
        session, persons=PersonColumns(**family(country)), relations=relations(), actor=ACTOR
    )
    employer = register_business(
        session,
        name="Mets Timber Ltd",
        legal_form="private_limited",
        registered_on=date(1999, 1, 1),
        actor=ACTOR,
    ).id
    return ids, employer


def test_import_employment_and_incomes(session: Session, country: Country) -> None:
    ids, employer = _economy(session, country)
    mother, father = int(ids[2]), int(ids[3])
    employments = EmploymentColumns(
        person_id=np.array([mother, father]),
        business_id=np.array([employer, employer]),
        valid_from=d("2010-01-01", "2012-01-01"),
        valid_to=d(None, "2024-03-15"),
    )
    incomes = IncomeColumns(
        person_id=np.array([mother, mother, father]),
        business_id=np.array([employer, employer, employer]),
        period=np.array(["2024-02", "2024-03", "2024-03"]),
        amount=np.array([210_000, 215_000, 90_000]),
    )
    assert import_employment(session, employments=employments, incomes=incomes, actor=ACTOR) == 5
    assert [
        i.amount
        for i in incomes_of(session, person_id=mother, from_period="2024-01", to_period="2024-12")
    ] == [
        210_000,
        215_000,
    ]
    assert last_event(session, "employment.imported.v1") == {
        "employments": 2,
        "ended": 1,
        "incomes": 3,
        "first_period": "2024-02",
        "last_period": "2024-03",
    }
    # The father's job ended in March: April is not his income from that employer.
    late = IncomeColumns(
        person_id=np.array([father]),
        business_id=np.array([employer]),
        period=np.array(["2024-04"]),
        amount=np.array([1]),
    )
    none = EmploymentColumns(
        person_id=np.zeros(0, dtype=np.int64),
        business_id=np.zeros(0, dtype=np.int64),
        valid_from=d(),
        valid_to=d(),
    )
    assert_refused(
        session,
        lambda: import_employment(session, employments=none, incomes=late, actor=ACTOR),
        "incomes.period: the person was not employed by that employer in that month",
    )
    again = EmploymentColumns(
        person_id=np.array([mother]),
        business_id=np.array([employer]),
        valid_from=d("2015-01-01"),
        valid_to=d(None),
    )
    assert_refused(
        session,
        lambda: import_employment(session, employments=again, incomes=late, actor=ACTOR),
        "employments.valid_from: overlaps another employment of the person with the same employer",
    )


def test_bad_employment_rows(session: Session, country: Country) -> None:
    ids, employer = _economy(session, country)
    employments = EmploymentColumns(
        person_id=np.array([int(ids[4]), int(ids[1]), 31_337]),
        business_id=np.array([employer, employer, employer]),
        valid_from=d("2012-01-01", "2015-01-01", "2015-01-01"),
        valid_to=d(None, None, None),
    )
    no_incomes = IncomeColumns(
        person_id=np.zeros(0, dtype=np.int64),
        business_id=np.zeros(0, dtype=np.int64),
        period=np.zeros(0, dtype="U7"),
        amount=np.zeros(0, dtype=np.int64),
    )
    assert_refused(
        session,
        lambda: import_employment(
            session, employments=employments, incomes=no_incomes, actor=ACTOR
        ),
        "employments.valid_from: an employee is at least 14 (rows 0)",
        "employments.valid_to: an employment ends at the latest on the date of death (rows 1)",
        "employments.person_id: is not a registered person (rows 2)",
    )
    incomes = IncomeColumns(
        person_id=np.array([int(ids[2])]),
        business_id=np.array([employer]),
        period=np.array(["2024-01"]),
        amount=np.array([1.5]),
    )
    assert_refused(
        session,
        lambda: import_employment(
            session,
            employments=employments[:0] if False else employments,
            incomes=incomes,
            actor=ACTOR,
        ),
        "incomes.amount: must be whole minor units",
    )


def test_import_payment_accounts(session: Session, country: Country) -> None:
    ids, _ = _economy(session, country)
    people = np.array([int(ids[0]), int(ids[2])])
    accounts = import_payment_accounts(
        session,
        person_ids=people,
        ibans=np.array(["EE38 2200 2210 2014 5685", "GB82WEST12345698765432"]),
        valid_from=d("2020-01-01", "2021-01-01"),
        actor=ACTOR,
    )
    assert accounts == 2
    assert last_event(session, "payment_account.imported.v1") == {"accounts": 2}
    assert_refused(
        session,
        lambda: import_payment_accounts(
            session,
            person_ids=people,
            ibans=np.array(["EE382200221020145685"] * 2),
            valid_from=d("2022-01-01", "2022-01-01"),
            actor=ACTOR,
        ),
        "some persons have a registered account already",
    )
    assert_refused(
        session,
        lambda: import_payment_accounts(
            session,
            person_ids=np.array([int(ids[3]), int(ids[1])]),
            ibans=np.array(["EE382200221020145686", "EE382200221020145685"]),
            valid_from=d("2022-01-01", "2022-01-01"),
            actor=ACTOR,
        ),
        "accounts.iban: fails the ISO 13616 mod-97 check: a character is mistyped (rows 0)",
        "accounts.person_id: the person has died (rows 1)",
    )


def test_import_businesses_and_representatives(session: Session, country: Country) -> None:
    ids, _ = _economy(session, country)
    codes = np.array(["10000001", "80000008"])
    businesses = BusinessColumns(
        registration_code=codes,
        name=np.array(["Kask Works Ltd", "Choir Society"]),
        legal_form=np.array(["private_limited", "non_profit"]),
        address_id=np.array([country.farm, 0]),
        registered_on=d("2001-01-01", "2002-02-02"),
    )
    assert_refused(
        session,
        lambda: import_businesses(session, businesses=businesses, actor=ACTOR),
        "registration_code: is already registered to another business",  # Mets Timber's
    )
    valid = BusinessColumns(
        registration_code=np.array(["10000018", "80000008"]),
        name=businesses.name,
        legal_form=businesses.legal_form,
        address_id=businesses.address_id,
        registered_on=businesses.registered_on,
    )
    business_ids = import_businesses(session, businesses=valid, actor=ACTOR)
    reps = RepresentativeColumns(
        business_id=business_ids,
        person_id=np.array([int(ids[2]), int(ids[4])]),
        role=np.array(["board_member", "chair"]),
        valid_from=d("2001-01-01", "2020-01-01"),
    )
    assert_refused(
        session,
        lambda: import_representatives(session, representatives=reps, actor=ACTOR),
        "representatives.person_id: a representative is at least 18 (rows 1)",
    )
    assert (
        import_representatives(
            session,
            representatives=RepresentativeColumns(
                business_id=business_ids[:1],
                person_id=np.array([int(ids[2])]),
                role=np.array(["chair"]),
                valid_from=d("2002-01-01"),
            ),
            actor=ACTOR,
        )
        == 1
    )
    assert adult(session, country).id > 0
