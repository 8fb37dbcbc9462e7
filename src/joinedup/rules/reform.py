"""Reforms and what-if: the same population under a modified parameter set, and what changes.

A reform is a list of parameter changes (``benefits.basic_income=700``,
``taxes.social_security_contribution[1].rate=0.05@2017-01-01``); applying it gives a new
ruleset sharing every formula. ``what_if`` evaluates a population under both and reports the
total cost and the winners and losers by income decile — the first thing a policy maker asks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from joinedup.core.errors import ValidationFailed
from joinedup.rules.columnar import Simulation
from joinedup.rules.model import ValueType
from joinedup.rules.money import to_decimal
from joinedup.rules.parameters import Bracket, DatedValue, Parameter, with_value
from joinedup.rules.periods import Period
from joinedup.rules.population import Population
from joinedup.rules.ruleset import Ruleset

_CHANGE = re.compile(
    r"^(?P<path>[A-Za-z_][\w.]*)(?:\[(?P<bracket>\d+)\]\.(?P<field>threshold|rate|amount))?"
    r"=(?P<value>[^@]+)(?:@(?P<start>\d{4}-\d{2}-\d{2}))?$"
)


@dataclass(frozen=True, slots=True)
class ParameterChange:
    """A parameter (or one bracket's threshold / rate / amount) set to ``value`` from
    ``start`` on (``None``: at every date)."""

    path: str
    value: Decimal
    start: date | None = None
    bracket: int | None = None
    field: str | None = None

    @staticmethod
    def parse(text: str) -> ParameterChange:
        match = _CHANGE.match(text.strip())
        if match is None:
            raise ValidationFailed(
                f"'{text}' is not a parameter change: write path=value[@YYYY-MM-DD] or "
                "path[bracket].rate=value (threshold, rate or amount)."
            )
        try:
            value = Decimal(match["value"].strip())
            start = date.fromisoformat(match["start"]) if match["start"] else None
        except (InvalidOperation, ValueError):
            raise ValidationFailed(
                f"'{text}': the value must be a number, the date YYYY-MM-DD."
            ) from None
        bracket = int(match["bracket"]) if match["bracket"] is not None else None
        return ParameterChange(match["path"], value, start, bracket, match["field"])

    def __str__(self) -> str:
        target = self.path if self.bracket is None else f"{self.path}[{self.bracket}].{self.field}"
        return f"{target}={self.value}" + (f"@{self.start}" if self.start else "")


def _changed_values(
    values: tuple[DatedValue, ...], change: ParameterChange
) -> tuple[DatedValue, ...]:
    probe = Parameter("x", "", "", "number", values)
    return with_value(probe, change.value, change.start).values


def apply_reform(
    ruleset: Ruleset, changes: list[ParameterChange], *, name: str | None = None
) -> Ruleset:
    """``ruleset`` with ``changes`` applied to its parameters (a new ruleset; the original is
    untouched). Unknown parameters and brackets are refused."""
    if not changes:
        raise ValidationFailed("A reform needs at least one parameter change.")
    tree = ruleset.parameters
    for change in changes:
        if change.path not in tree:
            raise ValidationFailed(
                f"The ruleset '{ruleset.name}' has no parameter '{change.path}'."
            )
        item = tree.get(change.path)
        if isinstance(item, Parameter):
            if change.bracket is not None:
                raise ValidationFailed(f"{change.path} is not a scale: it has no brackets.")
            tree = tree.replaced(with_value(item, change.value, change.start))
            continue
        if change.bracket is None or not 0 <= change.bracket < len(item.brackets):
            raise ValidationFailed(
                f"{change.path} is a scale of {len(item.brackets)} brackets: "
                f"change one with {change.path}[0..{len(item.brackets) - 1}].rate=…"
            )
        if (change.field == "rate") != (item.kind == "marginal_rate"):
            raise ValidationFailed(
                f"{change.path} brackets have a threshold and a "
                f"{'rate' if item.kind == 'marginal_rate' else 'amount'}."
            )
        old = item.brackets[change.bracket]
        new = (
            Bracket(_changed_values(old.threshold, change), old.value)
            if change.field == "threshold"
            else Bracket(old.threshold, _changed_values(old.value, change))
        )
        brackets = list(item.brackets)
        brackets[change.bracket] = new
        tree = tree.replaced(replace(item, brackets=tuple(brackets)))
    label = name or "; ".join(str(c) for c in changes)
    return ruleset.with_parameters(tree, reform=label)


@dataclass(frozen=True, slots=True)
class DecileResult:
    decile: int
    entities: int
    mean_income: Decimal
    winners: int
    losers: int
    unchanged: int
    mean_change: Decimal
    total_change: Decimal


@dataclass(frozen=True, slots=True)
class WhatIfReport:
    """The difference a reform makes, per period, in euros. ``net_cost`` is what the reform
    costs the public purse for the period: the total change in ``target`` (a disposable income:
    positive when people gain)."""

    ruleset: str
    reform: str
    period: str
    target: str
    entity: str
    entities: int
    baseline_total: Decimal
    reform_total: Decimal
    net_cost: Decimal
    winners: int
    losers: int
    deciles: list[DecileResult]
    breakdown: dict[str, dict[str, Decimal]]

    def as_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            if isinstance(value, Decimal):
                return str(value)
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        data = {k: plain(getattr(self, k)) for k in self.__slots__ if k != "deciles"}
        data["deciles"] = [{k: plain(getattr(d, k)) for k in d.__slots__} for d in self.deciles]
        return data


def _euros(cents: int | float) -> Decimal:
    return to_decimal(round(cents))


def what_if(
    *,
    baseline: Ruleset,
    reform: Ruleset,
    population: Population,
    period: Period,
    target: str = "disposable_income",
    income: str | None = None,
    breakdown: list[str] | None = None,
) -> WhatIfReport:
    """Evaluate ``population`` under ``baseline`` and ``reform`` and compare ``target``
    (a money variable) entity by entity. Deciles are of ``income`` under the baseline (by
    default ``target`` itself). Changes nothing."""
    variable = baseline.variable(target)
    if variable.value_type is not ValueType.MONEY:
        raise ValidationFailed(
            f"What-if compares an amount of money; {target} is a {variable.value_type}."
        )
    income_variable = baseline.variable(income or target)
    if income_variable.entity != variable.entity:
        raise ValidationFailed(
            f"{income_variable.name} and {target} are not about the same entity."
        )
    keys = [(target, baseline.period_for(variable, period))]
    income_key = (income_variable.name, baseline.period_for(income_variable, period))
    extra = [
        (name, baseline.period_for(baseline.variable(name), period)) for name in breakdown or []
    ]
    before_sim = Simulation(population)
    before = before_sim.compute([*keys, income_key, *extra])
    reformed = Population(reform, population.person_ids, population.memberships)
    reformed.inputs = population.inputs
    after = Simulation(reformed).compute([*keys, *extra])
    old, new = before[keys[0]], after[keys[0]]
    change = new - old
    ranking = before[income_key]
    n = len(change)
    deciles: list[DecileResult] = []
    if n:
        order = np.argsort(ranking, kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        decile_of = rank * 10 // n
        for d in range(10):
            mask = decile_of == d
            count = int(mask.sum())
            if not count:
                continue
            delta = change[mask]
            deciles.append(
                DecileResult(
                    decile=d + 1,
                    entities=count,
                    mean_income=_euros(float(ranking[mask].mean())),
                    winners=int((delta > 0).sum()),
                    losers=int((delta < 0).sum()),
                    unchanged=int((delta == 0).sum()),
                    mean_change=_euros(float(delta.mean())),
                    total_change=_euros(int(delta.sum())),
                )
            )
    return WhatIfReport(
        ruleset=baseline.name,
        reform=reform.reform or "",
        period=str(period),
        target=target,
        entity=variable.entity,
        entities=n,
        baseline_total=_euros(int(old.sum())),
        reform_total=_euros(int(new.sum())),
        net_cost=_euros(int(change.sum())),
        winners=int((change > 0).sum()),
        losers=int((change < 0).sum()),
        deciles=deciles,
        breakdown={
            name: {
                "baseline": _euros(int(before[key].sum())),
                "reform": _euros(int(after[key].sum())),
                "change": _euros(int(after[key].sum()) - int(before[key].sum())),
            }
            for (name, key) in zip(breakdown or [], extra, strict=True)
        },
    )
