"""Reforms: parameter changes, and what-if totals, winners and losers by decile."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from joinedup.core.errors import ValidationFailed
from joinedup.rules.columnar import Simulation
from joinedup.rules.parameters import Parameter, Scale
from joinedup.rules.periods import Period
from joinedup.rules.reform import ParameterChange, apply_reform, what_if
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.synthetic import generate, input_months, to_population


def test_parameter_changes_are_parsed() -> None:
    change = ParameterChange.parse("taxes.social_security_contribution[1].rate=0.05@2017-01-01")
    assert (change.path, change.bracket, change.field, change.value, change.start) == (
        "taxes.social_security_contribution",
        1,
        "rate",
        Decimal("0.05"),
        date(2017, 1, 1),
    )
    assert str(change) == "taxes.social_security_contribution[1].rate=0.05@2017-01-01"
    for bad in ("x", "a=b", "a[1]=2", "a=1@2017"):
        with pytest.raises(ValidationFailed):
            ParameterChange.parse(bad)


def test_a_reform_is_a_new_ruleset_sharing_the_formulas(template: Ruleset) -> None:
    reform = apply_reform(
        template,
        [
            ParameterChange.parse("benefits.basic_income=700"),
            ParameterChange.parse("taxes.social_security_contribution[0].rate=0.05"),
        ],
    )
    assert reform.variables is not template.variables
    assert reform.reform is not None
    amount = reform.parameters.get("benefits.basic_income")
    assert isinstance(amount, Parameter)
    assert amount.at(date(2017, 1, 1)).value == Decimal(700)
    original = template.parameters.get("benefits.basic_income")
    assert original.at(date(2017, 1, 1)).value == Decimal(600)  # type: ignore[union-attr]
    scale = reform.parameters.get("taxes.social_security_contribution")
    assert isinstance(scale, Scale)
    assert scale.at(date(2017, 1, 1))[0].value == Decimal("0.05")
    with pytest.raises(ValidationFailed, match="scale of 3 brackets"):
        apply_reform(template, [ParameterChange.parse("taxes.social_security_contribution=1")])
    with pytest.raises(ValidationFailed, match="not a scale"):
        apply_reform(template, [ParameterChange.parse("benefits.basic_income[0].rate=1")])


def test_what_if_counts_the_cost_and_the_winners(template: Ruleset) -> None:
    period = Period.parse("2017-01")
    population = to_population(template, generate(3000, seed=5), input_months([period]))
    reform = apply_reform(template, [ParameterChange.parse("benefits.basic_income=650")])
    report = what_if(
        baseline=template,
        reform=reform,
        population=population,
        period=period,
        breakdown=["total_benefits"],
    )
    adults = int((Simulation(population).calculate("age", period) >= 18).sum())
    assert report.net_cost == Decimal(50 * adults)
    assert report.net_cost == report.breakdown["total_benefits"]["change"]
    assert report.losers == 0
    assert (
        sum(d.entities for d in report.deciles) == report.entities == population.size("household")
    )
    assert sum(d.total_change for d in report.deciles) == report.net_cost
    means = [d.mean_income for d in report.deciles]
    assert means == sorted(means)
    assert report.as_dict()["deciles"][0]["decile"] == 1


def test_what_if_of_a_tax_rise_has_losers_in_the_top_deciles(template: Ruleset) -> None:
    period = Period.parse("2016-06")
    population = to_population(template, generate(3000, seed=6), input_months([period]))
    reform = apply_reform(template, [ParameterChange.parse("taxes.income_tax_rate=0.2@2016-01-01")])
    report = what_if(baseline=template, reform=reform, population=population, period=period)
    assert report.winners == 0
    assert report.net_cost < 0
    assert report.deciles[-1].losers > report.deciles[0].losers
    assert np.isclose(float(report.reform_total - report.baseline_total), float(report.net_cost))


def test_the_parameters_a_decision_depends_on_stop_at_another_decision() -> None:
    """What a variable's value depends on, through the formulas in force: its own
    parameters and those of the variables it reads, but not through a variable named as
    another's decision (the owner of that decision owns its parameters)."""
    from joinedup.rules import Period, get_ruleset, parameters_deciding

    demo = get_ruleset("demo")
    month = Period.parse("2027-01")
    child_benefit = parameters_deciding(demo, "child_benefit", month)
    assert "family.child_benefit.amount_per_child" in child_benefit
    assert not any(path.startswith("housing.") for path in child_benefit)
    housing = parameters_deciding(demo, "housing_support", month)
    assert {"housing.rent_cap", "housing.taper"} <= housing
    # the child benefit reads which children count (child_benefit_children, by the age
    # limit): named as a decision of its own, its parameter is left out
    assert "family.child_benefit.age_limit" in child_benefit
    through = parameters_deciding(
        demo, "child_benefit", month, through={"child_benefit_children", "child_benefit_child"}
    )
    assert "family.child_benefit.age_limit" not in through
    assert "family.child_benefit.amount_per_child" in through
