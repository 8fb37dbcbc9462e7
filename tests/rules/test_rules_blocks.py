"""Blocked columnar evaluation: a population in group order computed in blocks of whole groups
gives exactly the columns of the whole population computed at once."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from joinedup.rules.columnar import Simulation
from joinedup.rules.expr import Group, var, years_since
from joinedup.rules.model import Entity, Formula, Role, ValueType, Variable
from joinedup.rules.parameters import ParameterTree
from joinedup.rules.periods import Period
from joinedup.rules.population import GroupColumns, Population
from joinedup.rules.registry import get_ruleset
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.synthetic import generate, to_population

PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
M, N, D = ValueType.MONEY, ValueType.INT, ValueType.DATE
household, family = Group("household"), Group("family")


def _assert_same(population: Population, keys: list[tuple[str, Period]], size: int) -> None:
    whole = Simulation(population, block_persons=None).compute(keys)
    blocked = Simulation(population, block_persons=size).compute(keys)
    assert list(blocked) == list(whole)
    for key in keys:
        assert blocked[key].dtype == whole[key].dtype, key
        assert blocked[key].tolist() == whole[key].tolist(), key


@PROPERTY
@given(
    sizes=st.lists(st.integers(0, 5), min_size=1, max_size=12),
    block=st.integers(1, 9),
    period=st.sampled_from(["2015-12", "2016-01", "2016-12", "2017-01"]),
    seed=st.integers(0, 1000),
)
def test_country_template_blocks_agree(
    sizes: list[int], block: int, period: str, seed: int
) -> None:
    ruleset = get_ruleset("country_template")
    rng = np.random.default_rng(seed)
    person_group = np.repeat(np.arange(len(sizes)), sizes)
    n, h = len(person_group), len(sizes)
    population = Population.build(
        ruleset,
        person_ids=np.arange(n) + 7,
        groups={
            "household": GroupColumns(
                np.arange(h) * 3, person_group * 3, rng.integers(0, 2, n).astype(np.int8)
            )
        },
    )
    month = Period.parse(period)
    population.set_input(
        "birth",
        np.datetime64("1930-01-01") + rng.integers(0, 32_000, n).astype("timedelta64[D]"),
        native=True,
    )
    population.set_input(
        "salary", rng.integers(0, 600_000, n) * (rng.random(n) < 0.6), None, native=True
    )
    population.set_input("capital_returns", rng.integers(0, 99_999, n), None, native=True)
    population.set_input("rent", rng.integers(0, 200_000, h), None, native=True)
    population.set_input("accommodation_size", rng.integers(20, 400, h) / 2.0, None, native=True)
    population.set_input(
        "housing_occupancy_status", rng.integers(0, 4, h).astype(np.int8), None, native=True
    )
    names = [v.name for v in ruleset.variables.values()]
    if month.start.year < 2017:
        names = [x for x in names if x not in ("meal_price", "swimming_pool_access")]
    keys = [(x, ruleset.period_for(ruleset.variables[x], month)) for x in names]
    _assert_same(population, keys, block)


def test_a_large_population_is_computed_in_blocks(template: Ruleset) -> None:
    period = Period.parse("2016-01")
    population = to_population(template, generate(5_000, seed=3), [period])
    blocks = population.blocks(1_000)
    assert blocks is not None
    assert 4 <= len(blocks) <= 6
    # whole groups, one after the other, covering everyone
    persons = [b.rows["person"] for b in blocks]
    groups = [b.rows["household"] for b in blocks]
    assert persons[0].start == 0
    assert persons[-1].stop == 5_000
    assert groups[0].start == 0
    assert groups[-1].stop == population.memberships["household"].count
    for a, b in itertools.pairwise(persons):
        assert a.stop == b.start
    membership = population.memberships["household"]
    for p, g in zip(persons, groups, strict=True):
        assert membership.offsets[g.start] == p.start
        assert membership.offsets[g.stop] == p.stop
    keys = [(name, period) for name in ("disposable_income", "parenting_allowance", "age")]
    _assert_same(population, keys, 1_000)
    with pytest.raises(TypeError):
        blocks[0].set_input("salary", np.zeros(3, dtype=np.int64), period, native=True)


def test_persons_out_of_group_order_are_computed_whole(template: Ruleset) -> None:
    population = Population.build(
        template,
        person_ids=np.arange(4),
        groups={
            "household": GroupColumns(np.arange(2), np.array([1, 0, 1, 0]), np.zeros(4, np.int8))
        },
    )
    assert population.blocks(1) is None
    assert (
        Population.build(
            template,
            person_ids=np.arange(4),
            groups={
                "household": GroupColumns(np.arange(1), np.zeros(4, int), np.zeros(4, np.int8))
            },
        ).blocks(1)
        is None
    )  # one group: one block


def _two_groupings(tmp: Path) -> Ruleset:
    (tmp / "p.toml").write_text("")
    roles = (Role("member", "members", "Member"),)
    return Ruleset(
        name="two",
        label="two groupings",
        description="",
        version="1",
        person=Entity("person", "persons", "Person", is_person=True),
        groups=(
            Entity("household", "households", "Household", roles=roles),
            Entity("family", "families", "Family", roles=roles),
        ),
        variables=[
            Variable("pay", "person", M, Period.parse("2020-01").unit, "Pay"),
            Variable("born", "person", D, Period.parse("eternity").unit, "Born"),
            Variable(
                "household_pay",
                "household",
                M,
                Period.parse("2020-01").unit,
                "Household pay",
                formulas=(Formula(household.sum(var("pay"))),),
            ),
            Variable(
                "family_pay",
                "family",
                M,
                Period.parse("2020-01").unit,
                "Family pay",
                formulas=(Formula(family.sum(var("pay"))),),
            ),
            Variable(
                "both",
                "person",
                M,
                Period.parse("2020-01").unit,
                "Both",
                formulas=(
                    Formula(
                        household.value(var("household_pay")) - family.value(var("family_pay"))
                    ),
                ),
            ),
            Variable(
                "age",
                "person",
                N,
                Period.parse("2020-01").unit,
                "Age",
                formulas=(Formula(years_since(var("born"))),),
            ),
        ],
        parameters=ParameterTree.load(tmp / "p.toml"),
    )


@PROPERTY
@given(data=st.data())
def test_blocks_never_split_a_group_of_any_grouping(
    tmp_path_factory: Any, data: st.DataObject
) -> None:
    ruleset = _two_groupings(tmp_path_factory.mktemp("two"))
    n = data.draw(st.integers(2, 30))
    households = sorted(data.draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)))
    families = sorted(data.draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)))
    population = Population.build(
        ruleset,
        person_ids=np.arange(n),
        groups={
            "household": GroupColumns(np.arange(9), np.array(households), np.zeros(n, np.int8)),
            "family": GroupColumns(np.arange(9), np.array(families), np.zeros(n, np.int8)),
        },
    )
    period = Period.parse("2020-01")
    population.set_input(
        "pay",
        np.array(data.draw(st.lists(st.integers(-999, 10**6), min_size=n, max_size=n))),
        period,
        native=True,
    )
    born = [date(1950, 1, 1) + timedelta(days=d) for d in range(0, 700 * n, 700)]
    population.set_input("born", np.array(born, dtype="datetime64[D]"), native=True)
    size = data.draw(st.integers(1, 6))
    for block in population.blocks(size) or []:
        lo, hi = block.rows["person"].start, block.rows["person"].stop
        for key, groups in (("household", households), ("family", families)):
            inside = set(groups[lo:hi])
            outside = set(groups[:lo]) | set(groups[hi:])
            assert not inside & outside
            assert inside <= set(range(block.rows[key].start, block.rows[key].stop))
    keys = [(name, period) for name in ("household_pay", "family_pay", "both", "age")]
    _assert_same(population, keys, size)
