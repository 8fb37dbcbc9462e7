"""Engine features the reference rulesets use little of, on a small test ruleset: every
aggregation with and without roles, projections, sums over months, division by zero, explicit
rounding — both modes agreeing — and how the columnar evaluator keeps memory low."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from joinedup.rules.columnar import Simulation, years_between
from joinedup.rules.explain import Evaluation
from joinedup.rules.expr import (
    Group,
    max_,
    min_,
    money,
    param,
    round_cents,
    var,
    where,
    within_period,
    years_since,
)
from joinedup.rules.model import Entity, Formula, Role, ValueType, Variable
from joinedup.rules.parameters import ParameterTree
from joinedup.rules.periods import Period, Unit
from joinedup.rules.population import GroupColumns, Population
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.situation import Situation

M, N, F, B, D = ValueType.MONEY, ValueType.INT, ValueType.FLOAT, ValueType.BOOL, ValueType.DATE
MONTH = Unit.MONTH
family = Group("family")
pay, hours, born, parent = var("pay"), var("hours"), var("born"), var("parent")

FORMULAS: dict[str, tuple[str, ValueType, Any]] = {
    "top_pay": ("family", M, family.max(pay)),
    "low_parent_pay": ("family", M, family.min(pay, role="parent")),
    "all_parents_work": ("family", B, family.all(hours > 0, role="parent")),
    "kids_with_hours": ("family", N, family.count(hours > 0, role="kid")),
    "parents": ("family", N, family.count(role="parent")),
    "kid_pay": ("family", M, family.sum(pay, role="kid")),
    "hours_total": ("family", F, family.sum(hours)),
    "share": ("person", F, pay / family.value(family.sum(pay))),
    "per_hour": ("person", M, pay / hours),
    "pay_3m": ("person", M, pay.sum_last_months(3)),
    "bonus": ("person", M, round_cents(pay * param("rate")) + round_cents(pay / 3) * 2),
    "capped": ("person", M, max_(min_(pay * hours, money("999.99")), money("-5"))),
    "is_parent": ("person", B, family.has_role("parent")),
    "born_now": ("person", B, within_period(born)),
    "age": ("person", N, years_since(born)),
    "pick": ("person", M, where(family.has_role("kid"), pay - 1, -pay)),
    "avg": ("family", M, family.sum(pay) / family.count()),
}


def _ruleset(tmp: Path) -> Ruleset:
    (tmp / "p.toml").write_text(
        '[rate]\nunit = "rate"\nvalues = [{ start = 2000-01-01, value = 0.0333 }]\n'
    )
    person = Entity("person", "persons", "Person", is_person=True)
    group = Entity(
        "family",
        "families",
        "Family",
        roles=(Role("parent", "parents", "Parent"), Role("kid", "kids", "Kid")),
    )
    variables = [
        Variable("pay", "person", M, MONTH, "Pay"),
        Variable("hours", "person", F, MONTH, "Hours"),
        Variable("born", "person", D, Unit.ETERNITY, "Born", default=date(1990, 6, 15)),
        *(Variable(n, e, k, MONTH, n, formulas=(Formula(x),)) for n, (e, k, x) in FORMULAS.items()),
    ]
    return Ruleset(
        name="engine",
        label="engine",
        description="",
        version="1",
        person=person,
        groups=(group,),
        variables=variables,
        parameters=ParameterTree.load(tmp / "p.toml"),
    )


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_engine_feature_agrees_in_both_modes(
    tmp_path_factory: Any, data: st.DataObject
) -> None:
    ruleset = _ruleset(tmp_path_factory.mktemp("engine"))
    groups = data.draw(st.integers(1, 5))
    person_group = data.draw(st.lists(st.integers(0, groups - 1), min_size=1, max_size=12))
    n = len(person_group)
    population = Population.build(
        ruleset,
        person_ids=np.array([f"p{i}" for i in range(n)]),
        groups={
            "family": GroupColumns(
                np.array([f"f{g}" for g in range(groups)]),
                np.array([f"f{g}" for g in person_group]),
                np.array(
                    data.draw(st.lists(st.sampled_from(["parent", "kid"]), min_size=n, max_size=n))
                ),
            )
        },
    )
    period = Period.parse("2020-03")
    for month in (period, *period.last_months(3).subperiods(Unit.MONTH)):
        population.set_input(
            "pay",
            np.array(
                data.draw(st.lists(st.integers(-(10**6), 10**8), min_size=n, max_size=n)),
                dtype=np.int64,
            ),
            month,
            native=True,
        )
    population.set_input(
        "hours",
        np.array(
            data.draw(st.lists(st.sampled_from([0.0, 0.5, 7.25, 40.0]), min_size=n, max_size=n))
        ),
        period,
        native=True,
    )
    born = [
        date(2020, 2, 15) + timedelta(days=d)
        for d in data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    ]
    population.set_input("born", np.array(born, dtype="datetime64[D]"), native=True)
    simulation = Simulation(population)
    membership = population.memberships["family"]
    for name, (entity, _, _) in FORMULAS.items():
        column = simulation.calculate(name, period).tolist()
        for g in range(groups):
            situation = Situation.from_population(population, "family", g)
            evaluation = Evaluation(situation)
            if entity == "family":
                assert evaluation.value(name, period, 0) == column[g], name
            else:
                for k, p in enumerate(membership.members(g)):
                    assert evaluation.value(name, period, k) == column[p], name


def test_intermediate_columns_are_dropped_after_their_last_reader(template: Ruleset) -> None:
    from joinedup.rules.synthetic import generate, to_population

    period = Period.parse("2016-01")
    simulation = Simulation(to_population(template, generate(500, seed=1), [period]))
    live: list[int] = []
    evaluate = simulation._evaluate

    def counting(key: Any) -> Any:
        live.append(len(simulation._values))
        return evaluate(key)

    simulation._evaluate = counting  # type: ignore[method-assign]
    results = simulation.compute([("disposable_income", period)])
    assert list(results) == [("disposable_income", period)]
    assert simulation._values == {}
    # 16 variables are computed (inputs included), never more than 9 held at once
    assert len(live) == 16
    assert max(live) <= 9
    assert simulation.missing_inputs([("disposable_income", period)]) == []


def test_ages_through_the_day_table_and_the_arithmetic_agree() -> None:
    rng = np.random.default_rng(3)
    days = np.datetime64("1900-01-01") + rng.integers(0, 60_000, 50_000).astype("timedelta64[D]")
    for on in (date(2016, 2, 29), date(2017, 2, 28), date(2024, 3, 1), date(1950, 12, 31)):
        table = years_between(days, on)
        spread = years_between(np.concatenate([days, [np.datetime64("9999-12-31")]]), on)[:-1]
        slow = [years_between(d, on) for d in days[:2000].astype(date)]
        assert table.tolist() == spread.tolist()
        assert table[:2000].tolist() == slow
