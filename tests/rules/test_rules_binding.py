"""Binding: formulas are typed and resolved per period; mistakes are caught by name."""

from __future__ import annotations

from datetime import date

import pytest

from joinedup.rules.expr import Group, cond, param, var, where
from joinedup.rules.model import Entity, Formula, Role, RulesetDefinitionError, ValueType, Variable
from joinedup.rules.parameters import ParameterNotInForce
from joinedup.rules.periods import Period, Unit
from joinedup.rules.ruleset import Ruleset

PERIODS = ["2015-12", "2016-01", "2016-11", "2016-12", "2017-01", "2020-06"]


@pytest.mark.parametrize("period", PERIODS)
def test_every_country_template_variable_binds(template: Ruleset, period: str) -> None:
    for name, variable in template.variables.items():
        own = template.period_for(variable, Period.parse(period))
        if name in ("meal_price", "swimming_pool_access") and own.start.year < 2017:
            with pytest.raises(ParameterNotInForce):
                template.bound(name, own)
            continue
        bound = template.bound(name, own)
        assert bound.status in ("formula", "input", "not_yet", "ended")


@pytest.mark.parametrize("period", ["2019-06", "2023-03", "2024-09", "2027-02"])
def test_every_demo_variable_binds(demo: Ruleset, period: str) -> None:
    for name, variable in demo.variables.items():
        assert demo.bound(name, demo.period_for(variable, Period.parse(period))) is not None


def test_dated_formulas_and_end_dates(template: Ruleset) -> None:
    early = template.bound("basic_income", Period.parse("2015-11"))
    first = template.bound("basic_income", Period.parse("2016-01"))
    second = template.bound("basic_income", Period.parse("2016-12"))
    assert early.status == "not_yet"
    assert (first.since, first.until) == (date(2015, 12, 1), date(2016, 11, 30))
    assert (second.since, second.until) == (date(2016, 12, 1), None)
    assert first.reference.citation.startswith("Basic Income Act (2015)")
    assert template.bound("housing_allowance", Period.parse("2016-12")).status == "ended"
    assert template.bound("housing_allowance", Period.parse("2016-11")).status == "formula"


def test_a_parameter_without_a_value_is_named(template: Ruleset) -> None:
    with pytest.raises(ParameterNotInForce, match=r"income_threshold.*2015-11-01"):
        template.bound("parenting_allowance", Period.parse("2015-11"))


def _ruleset(*formulas: tuple[str, ValueType, str, object]) -> Ruleset:
    from joinedup.rules.parameters import ParameterTree

    person = Entity("person", "persons", "Person", is_person=True)
    group = Entity(
        "household", "households", "Household", roles=(Role("adult", "adults", "Adult"),)
    )
    variables = [
        Variable("salary", "person", ValueType.MONEY, Unit.MONTH, "Salary"),
        Variable("birth", "person", ValueType.DATE, Unit.ETERNITY, "Birth"),
        Variable("tax", "household", ValueType.MONEY, Unit.YEAR, "Tax"),
        *(
            Variable(name, entity, kind, Unit.MONTH, name, formulas=(Formula(expr),))  # type: ignore[arg-type]
            for name, kind, entity, expr in formulas
        ),
    ]
    return Ruleset(
        name="t",
        label="t",
        description="",
        version="1",
        person=person,
        groups=(group,),
        variables=variables,
        parameters=ParameterTree({}, descriptions={}),
    )


@pytest.mark.parametrize(
    ("expr", "kind", "entity", "message"),
    [
        (
            var("salary") * var("salary"),
            ValueType.MONEY,
            "person",
            "two amounts cannot be multiplied",
        ),
        (var("salary") < var("birth"), ValueType.BOOL, "person", "different types.*date and money"),
        (var("salary"), ValueType.MONEY, "household", "belongs to person"),
        (var("tax"), ValueType.MONEY, "household", "is per year"),
        (var("salary").at("this_year"), ValueType.MONEY, "person", "not per year"),
        (var("salary") > 0, ValueType.MONEY, "person", "gives a bool"),
        (where(var("salary"), 1, 0), ValueType.INT, "person", "yes/no"),
        (param("nowhere"), ValueType.MONEY, "person", "no parameter 'nowhere'"),
        (var("ghost"), ValueType.MONEY, "person", "no variable 'ghost'"),
        (Group("household").sum(var("salary")), ValueType.MONEY, "person", "household formula"),
        (cond(var("birth") == 3), ValueType.BOOL, "person", "cannot be a date"),
    ],
)
def test_mistakes_in_a_ruleset_are_caught_when_bound(
    expr: object, kind: ValueType, entity: str, message: str
) -> None:
    ruleset = _ruleset(("result", kind, entity, expr))
    with pytest.raises(RulesetDefinitionError, match=message):
        ruleset.bound("result", Period.parse("2020-01"))


def test_an_expression_has_no_truth_value() -> None:
    with pytest.raises(TypeError, match="no truth value"):
        bool(var("salary") > 0)
