"""Businesses and representatives, employment, monthly incomes, payment accounts."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from registries_support import ACTOR, Country, adult, assert_refused, last_event
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.registries import (
    LegalForm,
    RepresentativeRole,
    add_representative,
    employments_of,
    end_employment,
    end_representative,
    get_business,
    incomes_of,
    is_valid_business_code,
    monthly_income_totals,
    payment_account_of,
    record_monthly_income,
    register_business,
    register_death,
    register_payment_account,
    representatives_of,
    start_employment,
)


def _business(session: Session, country: Country, **changes: object) -> int:
    values: dict[str, object] = {
        "name": "Kask Bakery Ltd",
        "legal_form": LegalForm.PRIVATE_LIMITED,
        "registered_on": date(2001, 4, 1),
        "address_id": country.farm,
    }
    values.update(changes)
    return register_business(session, **values, actor=ACTOR).id  # type: ignore[arg-type]


def _month(back: int) -> str:
    first = today().replace(day=1)
    for _ in range(back):
        first = (first - timedelta(days=1)).replace(day=1)
    return first.strftime("%Y-%m")


def test_businesses_get_codes_of_their_type(session: Session, country: Country) -> None:
    company = get_business(session, business_id=_business(session, country))
    society = get_business(
        session,
        business_id=_business(session, country, name="Choir Society", legal_form="non_profit"),
    )
    second = get_business(session, business_id=_business(session, country, name="Tamm Timber Ltd"))
    assert is_valid_business_code(company.registration_code)
    assert company.registration_code.startswith("1")
    assert society.registration_code.startswith("8")
    assert second.registration_code > company.registration_code
    assert get_business(session, registration_code=company.registration_code).id == company.id
    assert (
        last_event(session, "business.registered.v1")["registration_code"]
        == second.registration_code
    )


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"registration_code": "10000000"}, "wrong check digit"),
        (
            {"registration_code": "80000008", "legal_form": "private_limited"},
            "does not match the legal form",
        ),
        ({"legal_form": "empire"}, "legal_form: must be one of"),
        ({"name": ""}, "name: must not be empty"),
        ({"registered_on": date(2999, 1, 1)}, "registered_on: is in the future"),
        ({"address_id": 31_337}, "address_id: is not a registered address"),
    ],
)
def test_bad_businesses(
    session: Session, country: Country, changes: dict[str, object], fragment: str
) -> None:
    assert_refused(session, lambda: _business(session, country, **changes), fragment)


def test_representatives(session: Session, country: Country) -> None:
    business = _business(session, country)
    owner = adult(session, country, birth_date=date(1970, 1, 1))
    rep = add_representative(
        session,
        business_id=business,
        person_id=owner.id,
        role=RepresentativeRole.BOARD_MEMBER,
        valid_from=date(2001, 4, 1),
        actor=ACTOR,
    )
    assert [r.person_id for r in representatives_of(session, business_id=business)] == [owner.id]
    assert_refused(
        session,
        lambda: add_representative(
            session,
            business_id=business,
            person_id=owner.id,
            role="board_member",
            valid_from=date(2010, 1, 1),
            actor=ACTOR,
        ),
        "already represents the business",
    )
    ended = end_representative(
        session, representative_id=rep.id, valid_to=date(2020, 1, 1), actor=ACTOR
    )
    assert representatives_of(session, business_id=business) == []
    assert [
        r.id for r in representatives_of(session, business_id=business, valid=date(2019, 1, 1))
    ] == [ended.id]
    child = adult(session, country, birth_date=date(2015, 1, 1))
    assert_refused(
        session,
        lambda: add_representative(
            session,
            business_id=business,
            person_id=child.id,
            role="chair",
            valid_from=date(2020, 1, 1),
            actor=ACTOR,
        ),
        "at least 18",
    )
    assert_refused(
        session,
        lambda: add_representative(
            session,
            business_id=business,
            person_id=owner.id,
            role="king",
            valid_from=date(2000, 1, 1),
            actor=ACTOR,
        ),
        "role: must be one of",
        "is before the business was registered",
    )


def test_employment_income_and_corrections(session: Session, country: Country) -> None:
    employer = _business(session, country)
    worker = adult(session, country, birth_date=date(1990, 1, 1))
    job = start_employment(
        session, person_id=worker.id, business_id=employer, started_on=date(2020, 1, 1), actor=ACTOR
    )
    assert last_event(session, "employment.started.v1") == {
        "employment_id": job.id,
        "person_id": worker.id,
        "business_id": employer,
        "started_on": "2020-01-01",
    }
    period = _month(2)
    first = record_monthly_income(
        session,
        person_id=worker.id,
        business_id=employer,
        period=period,
        amount=250_000,
        actor=ACTOR,
    )
    assert last_event(session, "income.recorded.v1")["correction"] is False
    assert "amount" not in last_event(session, "income.recorded.v1"), "no amounts in events"
    time.sleep(0.002)
    between = utcnow()
    time.sleep(0.002)
    corrected = record_monthly_income(
        session,
        person_id=worker.id,
        business_id=employer,
        period=period,
        amount=260_050,
        actor=ACTOR,
    )
    assert last_event(session, "income.recorded.v1")["correction"] is True
    assert [
        i.amount
        for i in incomes_of(session, person_id=worker.id, from_period=period, to_period=period)
    ] == [260_050]
    as_known = incomes_of(
        session, person_id=worker.id, from_period=period, to_period=period, known=between
    )
    assert [(i.id, i.amount) for i in as_known] == [(first.id, 250_000)]
    assert corrected.currency == "EUR"
    ended = end_employment(session, employment_id=job.id, ended_on=date(2024, 7, 1), actor=ACTOR)
    assert employments_of(session, person_id=worker.id, valid=date(2024, 7, 1)) == []
    assert [
        e.id for e in employments_of(session, person_id=worker.id, valid=date(2024, 6, 30))
    ] == [ended.id]
    assert last_event(session, "employment.ended.v1")["ended_on"] == "2024-07-01"
    assert_refused(
        session,
        lambda: record_monthly_income(
            session,
            person_id=worker.id,
            business_id=employer,
            period="2024-08",
            amount=1,
            actor=ACTOR,
        ),
        "was not employed by that employer in that month",
    )


def test_monthly_totals_sum_every_employer_as_the_register_knows_them(
    session: Session, country: Country
) -> None:
    """What the income-totals service answers with: per month over every employer, the
    corrected amount now and the first as known before the correction; months without
    income left out."""
    first_employer = _business(session, country)
    second_employer = _business(session, country, name="Kask Dairy Ltd")
    worker = adult(session, country, birth_date=date(1990, 1, 1))
    for employer in (first_employer, second_employer):
        start_employment(
            session, person_id=worker.id, business_id=employer, started_on=date(2020, 1, 1),
            actor=ACTOR,
        )  # fmt: skip
    both, one, none = _month(4), _month(3), _month(2)
    record = {"session": session, "person_id": worker.id, "actor": ACTOR}
    record_monthly_income(**record, business_id=first_employer, period=both, amount=100_000)
    record_monthly_income(**record, business_id=second_employer, period=both, amount=23_456)
    record_monthly_income(**record, business_id=first_employer, period=one, amount=70_000)
    time.sleep(0.002)
    between = utcnow()
    time.sleep(0.002)
    record_monthly_income(**record, business_id=first_employer, period=one, amount=71_500)
    span = {"person_id": worker.id, "from_period": both, "to_period": none}
    assert monthly_income_totals(session, **span) == {both: 123_456, one: 71_500}
    assert monthly_income_totals(session, **span, known=between) == {both: 123_456, one: 70_000}
    assert monthly_income_totals(session, **{**span, "from_period": one, "to_period": one}) == {
        one: 71_500
    }
    assert monthly_income_totals(session, **{**span, "person_id": worker.id + 10_000}) == {}


@pytest.mark.parametrize(
    ("period", "amount", "fragment"),
    [
        ("2024-13", 100, "must be a month written YYYY-MM"),
        ("2024/01", 100, "must be a month written YYYY-MM"),
        (None, 100, "period: is in the future"),
        ("2023-05", 12.5, "whole minor units"),
        ("2023-05", True, "whole minor units"),
        ("2023-05", -1, "amount: must not be negative"),
        ("2019-12", 100, "was not employed"),
    ],
)
def test_bad_incomes(
    session: Session, country: Country, period: str | None, amount: object, fragment: str
) -> None:
    employer = _business(session, country)
    worker = adult(session, country, birth_date=date(1990, 1, 1))
    start_employment(
        session, person_id=worker.id, business_id=employer, started_on=date(2020, 1, 1), actor=ACTOR
    )
    month = period or (today().replace(day=28) + timedelta(days=10)).strftime("%Y-%m")
    assert_refused(
        session,
        lambda: record_monthly_income(
            session,
            person_id=worker.id,
            business_id=employer,
            period=month,
            amount=amount,  # type: ignore[arg-type]
            actor=ACTOR,
        ),
        fragment,
    )


def test_bad_employments(session: Session, country: Country) -> None:
    employer = _business(session, country, registered_on=date(2010, 1, 1))
    worker = adult(session, country, birth_date=date(1990, 1, 1))
    child = adult(session, country, birth_date=date(2015, 1, 1))
    start = lambda person, on: start_employment(  # noqa: E731
        session, person_id=person, business_id=employer, started_on=on, actor=ACTOR
    )
    assert_refused(
        session, lambda: start(worker.id, date(2009, 1, 1)), "before the employer was registered"
    )
    assert_refused(session, lambda: start(child.id, date(2020, 1, 1)), "at least 14")
    assert_refused(session, lambda: start(424_242, date(2020, 1, 1)), "not a registered person")
    assert_refused(session, lambda: start(worker.id, today() + timedelta(days=1)), "in the future")
    start(worker.id, date(2015, 1, 1))
    assert_refused(
        session, lambda: start(worker.id, date(2016, 1, 1)), "overlaps another employment"
    )
    register_death(session, person_id=worker.id, date_of_death=date(2023, 1, 1), actor=ACTOR)
    job = employments_of(session, person_id=worker.id)[0]
    assert_refused(
        session,
        lambda: end_employment(
            session, employment_id=job.id, ended_on=date(2014, 1, 1), actor=ACTOR
        ),
        "must be after the start",
    )


def test_payment_accounts(session: Session, country: Country) -> None:
    person = adult(session, country, birth_date=date(1980, 1, 1))
    first = register_payment_account(
        session,
        person_id=person.id,
        iban="ee38 2200 2210 2014 5685",
        valid_from=date(2020, 1, 1),
        actor=ACTOR,
    )
    assert first.iban == "EE382200221020145685"
    assert last_event(session, "payment_account.registered.v1") == {
        "account_id": first.id,
        "person_id": person.id,
        "valid_from": "2020-01-01",
    }
    second = register_payment_account(
        session,
        person_id=person.id,
        iban="GB82WEST12345698765432",
        valid_from=date(2024, 5, 1),
        actor=ACTOR,
    )
    current = payment_account_of(session, person_id=person.id)
    assert current is not None
    assert current.id == second.id
    earlier = payment_account_of(session, person_id=person.id, valid=date(2023, 1, 1))
    assert earlier is not None
    assert (earlier.iban, earlier.valid_to) == ("EE382200221020145685", date(2024, 5, 1))
    assert_refused(
        session,
        lambda: register_payment_account(
            session, person_id=person.id, iban="GB82WEST12345698765432", actor=ACTOR
        ),
        "already the person's registered account",
    )
    assert_refused(
        session,
        lambda: register_payment_account(
            session, person_id=person.id, iban="GB82WEST12345698765433", actor=ACTOR
        ),
        "mod-97",
    )
    assert_refused(
        session,
        lambda: register_payment_account(
            session,
            person_id=person.id,
            iban="EE382200221020145685",
            valid_from=date(1970, 1, 1),
            actor=ACTOR,
        ),
        "before the person's birth",
    )
    register_death(session, person_id=person.id, date_of_death=date(2025, 1, 1), actor=ACTOR)
    assert_refused(
        session,
        lambda: register_payment_account(
            session, person_id=person.id, iban="EE382200221020145685", actor=ACTOR
        ),
        "the person has died",
    )
