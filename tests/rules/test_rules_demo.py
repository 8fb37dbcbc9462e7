"""Joinland's services: each eligibility rule, its amount and how its explanation reads."""

from __future__ import annotations

from typing import Any

from rules_support import both, household

from joinedup.rules.periods import Period
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.service import explain_situation

MAY = "2024-05"


def resident(birth: str, **values: Any) -> dict[str, Any]:
    return {"birth_date": {"ETERNITY": birth}, "resident": {MAY: True}, **values}


def _family(
    *children: str, rent: float = 0, tenure: str = "tenant", income: float = 0
) -> dict[str, Any]:
    persons = {
        "anna": resident(
            "1990-03-04",
            monthly_income={MAY: income, "2024-02": 3000, "2024-03": 3100, "2024-04": 2900},
        ),
        "ben": resident("1988-07-01"),
    }
    for i, birth in enumerate(children):
        persons[f"c{i}"] = resident(birth)
    return household(
        persons,
        ["anna", "ben"],
        [f"c{i}" for i in range(len(children))],
        rent={MAY: rent},
        housing_tenure={MAY: tenure},
    )


def _sentences(
    ruleset: Ruleset,
    situation: dict[str, Any],
    name: str,
    entity: str = "household",
    entity_id: str = "h",
) -> list[str]:
    return explain_situation(
        ruleset=ruleset,
        data=situation,
        variables=[name],
        period=Period.parse(MAY),
        entity=entity,
        entity_id=entity_id,
    ).sentences


def test_child_benefit_per_child_and_large_family_supplement(demo: Ruleset) -> None:
    assert both(demo, _family("2015-01-01", "2018-02-01"), "child_benefit", MAY) == [24_000]
    three = _family("2010-01-01", "2015-01-01", "2018-02-01")
    assert both(demo, three, "child_benefit", MAY) == [3 * 12_000 + 20_000]
    assert both(demo, three, "child_benefit", "2022-05") == [0]  # residence given for May 2024 only
    adult_child = _family("2006-01-01")
    assert both(demo, adult_child, "child_benefit", MAY) == [0]
    assert _sentences(demo, adult_child, "child_benefit")[1] == (
        "Not eligible: no child under 18 living in Joinland belongs to the household "
        "(Family Benefits Act 2019 §4(1))."
    )


def test_birth_grant_in_the_month_of_birth(demo: Ruleset) -> None:
    situation = _family("2024-05-10")
    assert both(demo, situation, "birth_grant", MAY) == [100_000]
    assert both(demo, _family("2024-04-30"), "birth_grant", MAY) == [0]
    assert _sentences(demo, situation, "birth_grant")[1] == (
        "Eligible: a child of the household was born this month in Joinland "
        "(Family Benefits Act 2019 §8(1))."
    )


def test_parental_benefit_replaces_income_between_a_floor_and_a_ceiling(demo: Ruleset) -> None:
    situation = _family("2024-01-20")
    # anna: 80% of her 3,000 average; ben: no income, the minimum; the infant: not a parent
    assert both(demo, situation, "parental_benefit", MAY) == [240_000, 60_000, 0]
    rich = _family("2024-01-20")
    rich["persons"]["anna"]["monthly_income"] = {"2024-02": 9000, "2024-03": 9000, "2024-04": 9000}
    assert both(demo, rich, "parental_benefit", MAY)[0] == 320_000
    assert both(demo, _family("2022-01-20"), "parental_benefit", MAY) == [0, 0, 0]


def test_old_age_pension_and_the_month_pension_age_is_reached(demo: Ruleset) -> None:
    here = {"2023-06": True, MAY: True, "2024-06": True}
    situation = household(
        {
            "old": {"birth_date": {"ETERNITY": "1958-05-20"}, "resident": here},
            "older": {"birth_date": {"ETERNITY": "1950-01-01"}, "resident": here},
            "abroad": {"birth_date": {"ETERNITY": "1950-01-01"}, "resident": {MAY: False}},
        },
        ["old", "older", "abroad"],
    )
    # pension age is 66 from 2024: "old" turns 66 on 20 May 2024, is paid from June
    assert both(demo, situation, "old_age_pension", MAY) == [0, 87_550, 0]
    assert both(demo, situation, "reaches_pension_age", MAY) == [True, False, False]
    assert both(demo, situation, "old_age_pension", "2024-06") == [87_550, 87_550, 0]
    assert both(demo, situation, "reaches_pension_age", "2024-06") == [False, False, False]
    # in 2023 the pension age was 65 and the basic pension 820.00
    assert both(demo, situation, "old_age_pension", "2023-06") == [82_000, 82_000, 0]
    assert _sentences(demo, situation, "reaches_pension_age", "person", "old")[1] == (
        "Offer due: is below pension age on the first day of the month; reaches pension age "
        "during the month (State Pension Act 2001 §7(1)); lives in Joinland "
        "(Residence Act 2015 §2); is alive."
    )


def test_housing_support_is_means_tested(demo: Ruleset) -> None:
    # 60% of the rent up to 850, less 35% of the income above 900 + 300 per further member
    assert both(demo, _family(rent=900, income=1200), "housing_support", MAY) == [51_000]
    assert both(demo, _family(rent=900, income=1800), "housing_support", MAY) == [30_000]
    assert both(demo, _family(rent=900, income=2500), "housing_support", MAY) == [5_500]
    assert both(demo, _family(rent=900, income=4000), "housing_support", MAY) == [0]
    assert both(demo, _family("2015-01-01", rent=600, income=2500), "housing_support", MAY) == [
        36_000 - 35_000  # three members: 1,500 disregarded
    ]
    assert both(demo, _family(rent=900, income=1200, tenure="owner"), "housing_support", MAY) == [0]
    assert _sentences(demo, _family(rent=900, income=4000), "housing_support")[1] == (
        "Not eligible: the household income is too high for support "
        "(Housing Support Act 2018 §5(2))."
    )


def test_funeral_grant_in_the_month_of_death(demo: Ruleset) -> None:
    situation = household(
        {
            "gone": {**resident("1940-01-01"), "date_of_death": {"ETERNITY": "2024-05-03"}},
            "earlier": {**resident("1940-01-01"), "date_of_death": {"ETERNITY": "2024-04-03"}},
            "alive": resident("1940-01-01"),
        },
        ["gone", "earlier", "alive"],
    )
    assert both(demo, situation, "funeral_grant", MAY) == [50_000, 0, 0]
    assert both(demo, situation, "alive", MAY) == [True, False, True]


def test_school_enrolment_at_six_by_the_first_of_september(demo: Ruleset) -> None:
    # six by 1 September 2024: born 2 September 2017 to 1 September 2018
    situation = _family("2018-09-01", "2018-09-02", "2017-09-01")
    assert both(demo, situation, "school_enrolment_due", MAY) == [False, False, True, False, False]
    sentences = _sentences(demo, situation, "school_enrolment_due", "person", "c0")
    assert sentences[1] == (
        "Enrolment due: age on 1 September (6) is the school starting age (6) "
        "(Basic Schools Act 2010 §9(1)); lives in Joinland (Residence Act 2015 §2); is alive."
    )


def test_elderly_care_assessment_at_80_or_75_living_alone(demo: Ruleset) -> None:
    alone = household({"x": resident("1948-01-01")}, ["x"])
    couple = household({"x": resident("1948-01-01"), "y": resident("1943-01-01")}, ["x", "y"])
    assert both(demo, alone, "elderly_care_assessment", MAY) == [True]
    assert both(demo, couple, "elderly_care_assessment", MAY) == [False, True]
