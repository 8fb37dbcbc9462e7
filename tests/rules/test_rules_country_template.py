"""The reference ruleset on the country template's own test cases, in both evaluation modes."""

from __future__ import annotations

import pytest
from rules_support import both, household

from joinedup.rules.ruleset import Ruleset


def person(**values: object) -> dict[str, object]:
    return {"birth": {"ETERNITY": "1980-01-01"}, **values}


@pytest.mark.parametrize(
    ("period", "salary", "expected"),
    [
        ("2013-01", 2000, 6000),
        ("2013-01", 15000, 66000),
        ("2015-01", 2000, 8000),
        ("2015-01", 15000, 82400),
        ("2017-01", 2000, 4000),
        ("2017-01", 15000, 81600),
    ],
)
def test_social_security_contribution_scale(
    template: Ruleset, period: str, salary: int, expected: int
) -> None:
    situation = household({"a": person(salary={period: salary})}, ["a"])
    assert both(template, situation, "social_security_contribution", period) == [expected]


def test_income_tax(template: Ruleset) -> None:
    situation = household({"a": person(salary={"2017-01": 10000})}, ["a"])
    assert both(template, situation, "income_tax", "2017-01") == [150_000]


@pytest.mark.parametrize(
    ("size", "status", "expected"),
    [(40, "tenant", 40_000), (40, "free_lodger", 0), (100, None, 100_000), (5, "owner", 20_000)],
)
def test_housing_tax_reads_january(
    template: Ruleset, size: int, status: str | None, expected: int
) -> None:
    values: dict[str, object] = {"accommodation_size": {"2017-01": size}}
    if status:
        values["housing_occupancy_status"] = {"2017-01": status}
    situation = household({"a": person()}, ["a"], **values)
    assert both(template, situation, "housing_tax", "2017") == [expected]
    assert both(template, situation, "housing_tax", "2017-07") == [expected]


def test_parenting_allowance_two_parents_little_income(template: Ruleset) -> None:
    situation = household(
        {
            "Phil": {
                "birth": {"ETERNITY": "1981-01-15"},
                "salary": {"2017-01": 250, "2018-01": 250},
            },
            "Saz": {
                "birth": {"ETERNITY": "1982-01-15"},
                "salary": {"2017-01": 250, "2018-01": 251},
            },
            "Caz": {"birth": {"ETERNITY": "2010-01-15"}},
            "Eille": {"birth": {"ETERNITY": "2012-01-15"}},
            "Nimasay": {"birth": {"ETERNITY": "2018-01-15"}},
        },
        ["Phil", "Saz"],
        ["Caz", "Eille", "Nimasay"],
    )
    assert both(template, situation, "parenting_allowance", "2017-01") == [60_000]
    assert both(template, situation, "parenting_allowance", "2018-01") == [0]


def test_basic_income_two_dated_formulas(template: Ruleset) -> None:
    situation = household(
        {
            "worker": person(salary={"2015-11": 1000, "2016-01": 1000, "2016-12": 1000}),
            "idle": person(),
            "young": {"birth": {"ETERNITY": "2000-06-01"}},
        },
        ["worker", "idle"],
        ["young"],
    )
    assert both(template, situation, "basic_income", "2015-11") == [0, 0, 0]
    assert both(template, situation, "basic_income", "2016-01") == [0, 60_000, 0]
    assert both(template, situation, "basic_income", "2016-12") == [60_000, 60_000, 0]


def test_housing_allowance_ends(template: Ruleset) -> None:
    situation = household({"a": person()}, ["a"], rent={"2016-11": 801.01, "2016-12": 800})
    assert both(template, situation, "housing_allowance", "2016-11") == [20_025]
    assert both(template, situation, "housing_allowance", "2016-12") == [0]


def test_age_on_the_first_day_of_the_month_leap_days_included(template: Ruleset) -> None:
    situation = household(
        {
            "leap": {"birth": {"ETERNITY": "2000-02-29"}},
            "first": {"birth": {"ETERNITY": "2000-03-01"}},
            "future": {"birth": {"ETERNITY": "2019-05-02"}},
        },
        ["leap", "first", "future"],
    )
    assert both(template, situation, "age", "2017-02") == [16, 16, -3]
    assert both(template, situation, "age", "2017-03") == [17, 17, -3]


def test_disposable_income_of_a_couple(template: Ruleset) -> None:
    situation = household(
        {
            "Alicia": {"birth": {"ETERNITY": "1980-01-01"}, "salary": {"2017-01": 4000}},
            "Javier": {"birth": {"ETERNITY": "1984-01-01"}, "salary": {"2017-01": 2500}},
        },
        ["Alicia", "Javier"],
    )
    # 6,500 + 2 × 600 basic income − 15% tax − 2% contributions − 200/12 housing tax
    assert both(template, situation, "disposable_income", "2017-01") == [657_833]
    assert both(template, situation, "total_taxes", "2017-01") == [112_167]
    assert both(template, situation, "meal_price", "2017-01") == [800]
    assert both(template, situation, "swimming_pool_access", "2017-01") == [400]
