"""Differential test: joinedup's country_template ruleset against OpenFisca (openfisca-core with
openfisca-country-template) on the same random populations, over periods before and after the
basic income formula change, the housing allowance's end and the 2017 scale change.

Whole-euro incomes: every value agrees within €0.01 (OpenFisca computes in float32; joinedup
in cents, rounding each money variable to the cent). Incomes with cents: every variable still
agrees within €0.01 on its own; a total of several rounded amounts (disposable income, total
taxes) differs from OpenFisca's unrounded float sum by at most half a cent per rounded term —
and equals exactly the total of OpenFisca's terms each rounded to the cent.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from joinedup.rules.columnar import Simulation
from joinedup.rules.model import ValueType
from joinedup.rules.openfisca_bridge import build_simulation, calculate
from joinedup.rules.periods import Period
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.synthetic import generate, input_months, to_population

pytestmark = pytest.mark.openfisca

PERIODS = ["2015-12", "2016-01", "2016-06", "2016-11", "2016-12", "2017-01", "2017-07", "2018-03"]
VARIABLES = [
    "age",
    "basic_income",
    "pension",
    "income_tax",
    "social_security_contribution",
    "household_income",
    "parenting_allowance",
    "housing_allowance",
    "housing_tax",
    "disposable_income",
    "total_benefits",
    "total_taxes",
    "meal_price",
    "swimming_pool_access",
]
SUMS_OF_ROUNDED = {"disposable_income", "total_taxes", "total_benefits"}


def _both(template: Ruleset, *, seed: int, cents: bool) -> tuple[Any, Any, list[Period], Any]:
    synthetic = generate(6_000, seed=seed, cents=cents)
    periods = [Period.parse(p) for p in PERIODS]
    months = input_months(periods)
    ours = Simulation(to_population(template, synthetic, months))
    theirs = build_simulation(synthetic, months)
    return ours, theirs, periods, synthetic


def _values(
    template: Ruleset, ours: Simulation, theirs: Any, name: str, period: Period
) -> tuple[Any, Any]:
    variable = template.variable(name)
    own = template.period_for(variable, period)
    mine = ours.calculate(name, own)
    if variable.value_type is ValueType.MONEY:
        mine = mine / 100
    return mine.astype(np.float64), calculate(theirs, name, own).astype(np.float64)


def _applicable(name: str, period: Period) -> bool:
    return not (name in ("meal_price", "swimming_pool_access") and period.start.year < 2017)


@pytest.mark.parametrize("seed", [11, 12])
def test_every_value_agrees_within_a_cent(template: Ruleset, seed: int) -> None:
    ours, theirs, periods, _ = _both(template, seed=seed, cents=False)
    checked = 0
    for period in periods:
        for name in VARIABLES:
            if not _applicable(name, period):
                continue
            mine, openfisca = _values(template, ours, theirs, name, period)
            worst = float(np.max(np.abs(mine - openfisca)))
            assert worst <= 0.01, f"{name} {period}: differs by up to {worst}"
            checked += mine.size
    assert checked > 300_000  # values compared


def test_incomes_with_cents_agree_within_the_rounding_rule(template: Ruleset) -> None:
    ours, theirs, periods, synthetic = _both(template, seed=13, cents=True)
    members = np.bincount(synthetic.person_household)
    for period in periods:
        for name in VARIABLES:
            if not _applicable(name, period):
                continue
            mine, openfisca = _values(template, ours, theirs, name, period)
            gap = np.abs(mine - openfisca)
            if name not in SUMS_OF_ROUNDED:
                assert float(gap.max()) <= 0.01, f"{name} {period}"
                continue
            # half a cent per rounded term: income tax and contribution per member, the
            # housing tax twelfth and the housing allowance, plus float32 noise
            bound = 0.005 * (2 * members + 2) + 0.002
            assert bool(np.all(gap <= bound)), f"{name} {period}"
        # and exactly OpenFisca's own terms, each rounded to the cent, added up
        rounded = {
            n: np.round(_values(template, ours, theirs, n, period)[1].astype(np.float64) * 100)
            for n in ("income_tax", "social_security_contribution")
        }
        tax = np.bincount(synthetic.person_household, weights=rounded["income_tax"])
        contribution = np.bincount(
            synthetic.person_household, weights=rounded["social_security_contribution"]
        )
        housing = np.round(
            calculate(theirs, "housing_tax", period.this_year).astype(np.float64) * 100 / 12
        )
        mine_taxes = ours.calculate("total_taxes", period)
        assert float(np.max(np.abs(mine_taxes - (tax + contribution + housing)))) <= 1.0
