"""Property: the explaining evaluator and the columnar evaluator give the same value for every
variable of every person and household, to the cent, on random populations."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.rules.columnar import Simulation
from joinedup.rules.explain import Evaluation
from joinedup.rules.periods import Period, Unit
from joinedup.rules.population import GroupColumns, Population
from joinedup.rules.registry import get_ruleset
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.situation import Situation

TEMPLATE_PERIODS = ["2015-12", "2016-01", "2016-11", "2016-12", "2017-01", "2017-02"]
DEMO_PERIODS = ["2019-03", "2023-01", "2024-02", "2024-09", "2027-01"]
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

days = st.integers(min_value=0, max_value=40_000)
cents = st.one_of(st.just(0), st.integers(min_value=0, max_value=2_000_000))


@st.composite
def shapes(draw: st.DrawFn) -> dict[str, Any]:
    """Households with members and roles; sometimes persons out of household order and
    households without members."""
    sizes = draw(st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=7))
    if sum(sizes) == 0:
        sizes[0] = 1
    person_group = [g for g, n in enumerate(sizes) for _ in range(n)]
    roles = [draw(st.sampled_from([0, 1])) for _ in person_group]
    order = draw(st.permutations(range(len(person_group))))
    return {
        "households": len(sizes),
        "person_group": [person_group[i] for i in order],
        "roles": [roles[i] for i in order],
    }


def _population(ruleset: Ruleset, shape: dict[str, Any]) -> Population:
    persons = len(shape["person_group"])
    return Population.build(
        ruleset,
        person_ids=np.arange(100, 100 + persons),
        groups={
            "household": GroupColumns(
                np.arange(shape["households"]) * 10,
                np.asarray(shape["person_group"]) * 10,
                np.asarray(shape["roles"], dtype=np.int8),
            )
        },
    )


def _assert_modes_agree(population: Population, period: Period) -> None:
    ruleset = population.ruleset
    simulation = Simulation(population)
    membership = population.memberships["household"]
    names = [n for n, v in ruleset.variables.items() if not v.is_input]
    if period.start.year < 2017:
        names = [n for n in names if n not in ("meal_price", "swimming_pool_access")]
    columns = {
        n: simulation.calculate(n, ruleset.period_for(ruleset.variables[n], period)) for n in names
    }
    for h in range(membership.count):
        situation = Situation.from_population(population, "household", h)
        evaluation = Evaluation(situation)
        members = membership.members(h)
        for name in names:
            variable = ruleset.variables[name]
            own = ruleset.period_for(variable, period)
            if variable.entity == "household":
                pairs = [(evaluation.value(name, own, 0), columns[name][h].item())]
            else:
                pairs = [
                    (evaluation.value(name, own, k), columns[name][p].item())
                    for k, p in enumerate(members)
                ]
            for explained, columnar in pairs:
                assert explained == columnar, f"{name} {period} household {h}"


@PROPERTY
@given(
    shape=shapes(),
    period=st.sampled_from(TEMPLATE_PERIODS),
    data=st.data(),
    held=st.booleans(),
)
def test_country_template_modes_agree(
    shape: dict[str, Any], period: str, data: st.DataObject, held: bool
) -> None:
    ruleset = get_ruleset("country_template")
    population = _population(ruleset, shape)
    month = Period.parse(period)
    n, h = population.count, shape["households"]
    birth = [
        date(1925, 1, 1) + timedelta(days=d)
        for d in data.draw(st.lists(days, min_size=n, max_size=n))
    ]
    population.set_input("birth", np.array(birth, dtype="datetime64[D]"), native=True)
    months = [None] if held else [month, month.this_year.first_month]
    for m in months:
        draw = data.draw
        population.set_input(
            "salary",
            np.array(draw(st.lists(cents, min_size=n, max_size=n)), dtype=np.int64),
            m,
            native=True,
        )
        population.set_input(
            "capital_returns",
            np.array(draw(st.lists(cents, min_size=n, max_size=n)), dtype=np.int64),
            m,
            native=True,
        )
        population.set_input(
            "rent",
            np.array(draw(st.lists(cents, min_size=h, max_size=h)), dtype=np.int64),
            m,
            native=True,
        )
        sizes = draw(
            st.lists(st.floats(min_value=0, max_value=500, allow_nan=False), min_size=h, max_size=h)
        )
        population.set_input("accommodation_size", np.array(sizes), m, native=True)
        statuses = draw(st.lists(st.integers(min_value=0, max_value=3), min_size=h, max_size=h))
        population.set_input(
            "housing_occupancy_status", np.array(statuses, dtype=np.int8), m, native=True
        )
    _assert_modes_agree(population, month)


@PROPERTY
@given(shape=shapes(), period=st.sampled_from(DEMO_PERIODS), data=st.data())
def test_demo_modes_agree(shape: dict[str, Any], period: str, data: st.DataObject) -> None:
    ruleset = get_ruleset("demo")
    population = _population(ruleset, shape)
    month = Period.parse(period)
    n, h = population.count, shape["households"]
    draw = data.draw
    start = date(1925, 1, 1)
    birth = [
        start + timedelta(days=d)
        for d in draw(st.lists(st.integers(0, 37_000), min_size=n, max_size=n))
    ]
    death = [
        date.max if d is None else start + timedelta(days=d)
        for d in draw(
            st.lists(st.one_of(st.none(), st.integers(35_000, 38_000)), min_size=n, max_size=n)
        )
    ]
    population.set_input("birth_date", np.array(birth, dtype="datetime64[D]"), native=True)
    population.set_input("date_of_death", np.array(death, dtype="datetime64[D]"), native=True)
    population.set_input(
        "resident",
        np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
        month,
        native=True,
    )
    for m in (month, *month.last_months(3).subperiods(Unit.MONTH)):
        population.set_input(
            "monthly_income",
            np.array(draw(st.lists(cents, min_size=n, max_size=n)), dtype=np.int64),
            m,
            native=True,
        )
    population.set_input(
        "rent",
        np.array(draw(st.lists(cents, min_size=h, max_size=h)), dtype=np.int64),
        month,
        native=True,
    )
    tenure = draw(st.lists(st.integers(0, 2), min_size=h, max_size=h))
    population.set_input("housing_tenure", np.array(tenure, dtype=np.int8), month, native=True)
    _assert_modes_agree(population, month)
