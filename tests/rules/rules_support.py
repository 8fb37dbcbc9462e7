"""Helpers shared by the rules tests."""

from __future__ import annotations

from typing import Any

from joinedup.rules.columnar import Simulation
from joinedup.rules.explain import Evaluation
from joinedup.rules.periods import Period
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.situation import parse_situation


def household(
    persons: dict[str, dict[str, Any]],
    adults: list[str],
    children: list[str] | None = None,
    **values: Any,
) -> dict[str, Any]:
    """A one-household situation in OpenFisca's shape."""
    return {
        "persons": persons,
        "households": {"h": {"adults": adults, "children": children or [], **values}},
    }


def columnar(ruleset: Ruleset, situation: dict[str, Any], name: str, period: str) -> list[Any]:
    """The variable for every entity of the situation, evaluated in columns."""
    parsed, _ = parse_situation(ruleset, situation)
    return Simulation(parsed.to_population()).calculate(name, Period.parse(period)).tolist()


def explained(ruleset: Ruleset, situation: dict[str, Any], name: str, period: str) -> list[Any]:
    """The same, evaluated value by value (the explaining evaluator)."""
    parsed, _ = parse_situation(ruleset, situation)
    variable = ruleset.variable(name)
    own = ruleset.period_for(variable, Period.parse(period))
    evaluation = Evaluation(parsed)
    return [evaluation.value(name, own, i) for i in range(len(parsed.ids(variable.entity)))]


def both(ruleset: Ruleset, situation: dict[str, Any], name: str, period: str) -> list[Any]:
    """The variable in both modes, which must agree."""
    first = columnar(ruleset, situation, name, period)
    second = explained(ruleset, situation, name, period)
    assert first == second, f"{name} {period}: columnar {first} != explained {second}"
    return first
