"""Columnar evaluation: every formula computed once for the whole population, on NumPy arrays,
with no per-person Python loop.

The variables a request needs form a graph (each bound formula lists what it reads); they are
computed in dependency order and an intermediate result is dropped as soon as its last reader
has run, so memory holds inputs, results asked for, and the few columns still needed.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

import numpy as np

from joinedup.rules.ir import (
    BoundVariable,
    KAggregate,
    KArith,
    KCompare,
    KCondition,
    KConst,
    KExtremum,
    KHasRole,
    KLogic,
    KNamed,
    KNeg,
    KNot,
    KParam,
    KProject,
    KRate,
    KRound,
    KScale,
    KSumPeriods,
    KVar,
    KWhere,
    KWithin,
    KYears,
    Node,
)
from joinedup.rules.model import ValueType, Variable
from joinedup.rules.money import round_half_away, round_half_away_array
from joinedup.rules.periods import Period
from joinedup.rules.population import DTYPES, Array, Population

COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}


def safe_divide(a: Any, b: Any) -> Any:
    """``a / b``, with 0 where ``b`` is 0 (a ratio with nothing to divide by counts as 0)."""
    if np.ndim(b) == 0:
        return a / b if b != 0 else np.zeros(np.shape(a)) if np.ndim(a) else 0.0
    shape = np.broadcast_shapes(np.shape(a), np.shape(b))
    out = np.zeros(shape, dtype=np.float64)
    np.divide(a, b, out=out, where=np.asarray(b) != 0)
    return out


def _years_from_day_numbers(days: Array, on: date) -> Array:
    """Whole years from each day number (days since 1970-01-01) to ``on``: the civil date
    of each day computed with integer arithmetic (H. Hinnant's ``civil_from_days``)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    ages: Array = on.year - year - (month * 32 + day > on.month * 32 + on.day)
    return ages


#: Dates spanning fewer days than this are aged through a table of every day in their range.
_TABLE_SPAN = 1 << 18


AgeTables = dict[date, tuple[int, Array]]


def years_between(days: Any, on: date, tables: AgeTables | None = None) -> Any:
    """Whole years completed from each date to ``on`` (an age on a day): the year difference,
    less one if the month and day of ``on`` come before those of the date (a 29 February
    birthday is reached on 1 March in other years). ``tables`` keeps the day tables made for
    each ``on`` (first day number, ages), to be reused by the blocks of one population."""
    if isinstance(days, np.datetime64):
        days = days.astype(date)
    if isinstance(days, date):
        return on.year - days.year - ((days.month, days.day) > (on.month, on.day))
    numbers = days.view(np.int64)
    if len(numbers) == 0:
        return np.zeros(0, dtype=np.int64)
    low, high = int(numbers.min()), int(numbers.max())
    kept = tables.get(on) if tables is not None else None
    if kept is not None:
        if kept[0] <= low and high < kept[0] + len(kept[1]):
            return kept[1][numbers - kept[0]]
        low, high = min(low, kept[0]), max(high, kept[0] + len(kept[1]) - 1)
    if high - low >= _TABLE_SPAN or (tables is None and len(numbers) < 4 * (high - low + 1)):
        return _years_from_day_numbers(numbers, on)
    # a population's dates cover a few tens of thousands of distinct days: age each day once
    table = _years_from_day_numbers(np.arange(low, high + 1, dtype=np.int64), on)
    if tables is not None:
        tables[on] = (low, table)
    return table[numbers - low]


def finish(variable: Variable, value: Any, size: int) -> Array:
    """A formula's result as a full column of the variable's type; money rounded to the cent."""
    kind = variable.value_type
    if kind is ValueType.MONEY:
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            arr = round_half_away_array(arr)
        value = arr.astype(np.int64, copy=False)
    elif kind is ValueType.DATE and isinstance(value, date):
        value = np.datetime64(value, "D")
    if np.ndim(value) == 0:
        return np.full(size, value, dtype=DTYPES[kind])
    return np.asarray(value).astype(DTYPES[kind], copy=False)


def _scale_scalar(node: KScale, base: Any) -> Any:
    from joinedup.rules.explain import scale_function

    return scale_function(node)(base)


def _choose(node: Node, test: Array, then: Any, otherwise: Any) -> Any:
    """``where(test, then, otherwise)`` for a column; a choice against zero is a product
    (several times faster than ``np.where``, and the same values)."""
    if node.kind in (ValueType.MONEY, ValueType.INT, ValueType.FLOAT):
        if np.ndim(otherwise) == 0 and otherwise == 0:
            return test * then
        if np.ndim(then) == 0 and then == 0:
            return np.logical_not(test) * otherwise
    return np.where(test, then, otherwise)


#: Persons per block of a blocked evaluation: a block's columns (1 MB of ``int64``) stay in the
#: processor's caches, and the same few buffers serve every block instead of fresh memory.
BLOCK_PERSONS = 1 << 17


class Simulation:
    """Computes variables for a whole population. ``compute`` takes several requests at once
    and keeps nothing afterwards: what it returns is all that stays in memory.

    A large population whose persons are in group order is computed block by block (whole
    groups each, see :meth:`Population.blocks`): every formula is per person or per group, so
    each block's values are exactly those of the whole population's columns, computed in
    cache-sized pieces. ``block_persons=None`` computes the whole population at once."""

    def __init__(self, population: Population, *, block_persons: int | None = BLOCK_PERSONS):
        self.population = population
        self.ruleset = population.ruleset
        self.block_persons = block_persons
        self._values: dict[tuple[str, Period], Array] = {}
        self._ages: AgeTables | None = None  # shared by the blocks of one population

    def calculate(self, name: str, period: Period) -> Array:
        """``name`` for ``period`` (its own period containing it: a year for a yearly variable)."""
        variable = self.ruleset.variable(name)
        key = (name, self.ruleset.period_for(variable, period))
        return self.compute([key])[key]

    def compute(self, requests: Iterable[tuple[str, Period]]) -> dict[tuple[str, Period], Array]:
        wanted = list(dict.fromkeys(requests))
        order, readers = self._plan(wanted)
        blocks = self.population.blocks(self.block_persons) if self.block_persons else None
        if blocks is None:
            return self._run(wanted, order, readers)
        results: dict[tuple[str, Period], Array] = {}
        ages: AgeTables = {}
        for block in blocks:
            simulation = Simulation(block, block_persons=None)
            simulation._ages = ages
            part = simulation._run(wanted, order, dict(readers))
            for key, values in part.items():
                entity = self.ruleset.variable(key[0]).entity
                column = results.get(key)
                if column is None:
                    column = np.empty(self.population.size(entity), dtype=values.dtype)
                    results[key] = column
                column[block.rows[entity]] = values
        return results

    def _run(
        self,
        wanted: list[tuple[str, Period]],
        order: list[tuple[str, Period]],
        readers: dict[tuple[str, Period], int],
    ) -> dict[tuple[str, Period], Array]:
        keep = set(wanted)
        for key in order:
            if key in self._values:
                continue
            self._values[key] = self._evaluate(key)
            bound = self._bound(key)
            for dep in bound.deps if bound is not None else ():
                readers[dep] -= 1
                if readers[dep] == 0 and dep not in keep:
                    self._values.pop(dep, None)
        results = {key: self._values[key] for key in wanted}
        self._values.clear()
        return results

    def missing_inputs(self, requests: Iterable[tuple[str, Period]]) -> list[tuple[str, Period]]:
        """The inputs the requests read that the population does not give (their default
        will be used)."""
        order, _ = self._plan(list(dict.fromkeys(requests)))
        missing = []
        for key in order:
            bound = self._bound(key)
            if bound is not None and bound.status == "input" and not bound.variable.optional:
                missing.append(key)
        return missing

    def _bound(self, key: tuple[str, Period]) -> BoundVariable | None:
        name, period = key
        if self.population.input_for(name, period) is not None:
            return None
        bound: BoundVariable = self.ruleset.bound(name, period)
        return bound

    def _plan(
        self, wanted: list[tuple[str, Period]]
    ) -> tuple[list[tuple[str, Period]], dict[tuple[str, Period], int]]:
        """The keys to compute, each after what it reads, and how many formulas read each."""
        order: list[tuple[str, Period]] = []
        readers: dict[tuple[str, Period], int] = {}
        seen: set[tuple[str, Period]] = set()
        stack: list[tuple[tuple[str, Period], bool]] = [(key, False) for key in reversed(wanted)]
        while stack:
            key, expanded = stack.pop()
            if expanded:
                order.append(key)
                continue
            if key in seen:
                continue
            seen.add(key)
            stack.append((key, True))
            bound = self._bound(key)
            for dep in bound.deps if bound is not None else ():
                readers[dep] = readers.get(dep, 0) + 1
                if dep not in seen:
                    stack.append((dep, False))
        return order, readers

    def _evaluate(self, key: tuple[str, Period]) -> Array:
        name, period = key
        given = self.population.input_for(name, period)
        if given is not None:
            return given
        bound: BoundVariable = self.ruleset.bound(name, period)
        variable = bound.variable
        size = self.population.size(variable.entity)
        if bound.root is None:
            return finish(variable, self.ruleset.default(variable), size)
        return finish(variable, self._eval(bound.root), size)

    def value(self, name: str, period: Period) -> Array:
        found = self._values.get((name, period))
        if found is None:
            found = self._evaluate((name, period))
        return found

    # one method per node type -----------------------------------------------------------------

    def _eval(self, node: Node) -> Any:
        ev = self._eval
        match node:
            case KConst(value=value) | KParam(value=value):
                return np.datetime64(value, "D") if isinstance(value, date) else value
            case KVar(variable=variable, period=period):
                return self.value(variable.name, period)
            case KSumPeriods(parts=parts):
                return functools.reduce(operator.add, (ev(p) for p in parts))
            case KRate(operand=operand, num=num, den=den):
                value = ev(operand)
                if num != 1:
                    value = value * num
                return value / den if den != 1 else value
            case KArith(op="/", left=left, right=right):
                return safe_divide(ev(left), ev(right))
            case KArith(op="+" | "-"):
                return self._sum_chain(node)
            case KArith(op=op, left=left, right=right):
                return ARITH[op](ev(left), ev(right))
            case KNeg(operand=operand):
                return -ev(operand)
            case KCompare(op=op, left=left, right=right):
                return COMPARE[op](ev(left), ev(right))
            case KLogic(op=op, items=items):
                combine = np.logical_and if op == "all" else np.logical_or
                return functools.reduce(combine, (ev(i) for i in items))
            case KNot(operand=operand):
                return np.logical_not(ev(operand))
            case KWhere(condition=condition, then=then, otherwise=otherwise):
                test = ev(condition)
                if np.ndim(test) == 0:
                    return ev(then) if test else ev(otherwise)
                return _choose(node, test, ev(then), ev(otherwise))
            case KExtremum(op=op, items=items):
                pick = np.minimum if op == "min" else np.maximum
                return functools.reduce(pick, (ev(i) for i in items))
            case KRound(operand=operand):
                value = ev(operand)
                if np.ndim(value):
                    return round_half_away_array(np.asarray(value))
                return round_half_away(value) if isinstance(value, float) else value
            case KScale():
                return self._scale(node, ev(node.base))
            case KAggregate():
                return self._aggregate(node)
            case KProject(group=group, operand=operand):
                value = ev(operand)
                if np.ndim(value) == 0:
                    return value
                return value[self.population.memberships[group].member_group]
            case KHasRole(group=group, role=role):
                return self.population.memberships[group].member_role == role
            case KYears(operand=operand, on=on):
                return years_between(ev(operand), on, self._ages)
            case KWithin(operand=operand, start=start, stop=stop):
                days = ev(operand)
                return (days >= np.datetime64(start, "D")) & (days <= np.datetime64(stop, "D"))
            case KCondition(operand=operand) | KNamed(operand=operand):
                return ev(operand)
        raise AssertionError(f"no columnar evaluation for {type(node).__name__}")

    def _sum_chain(self, node: KArith) -> Any:
        """A chain of additions and subtractions, left to right. Sums over the same group in
        the chain's leading whole-cent (exact) part are taken together, members' values
        combined first — one aggregation instead of several; integer arithmetic makes this
        exactly the same result."""
        terms: list[tuple[str, Node]] = []
        head: Node = node
        while isinstance(head, KArith) and head.op in "+-":
            terms.append((head.op, head.right))
            head = head.left
        terms.append(("+", head))
        terms.reverse()
        exact = 0
        while (
            exact < len(terms)
            and not terms[exact][1].frac
            and terms[exact][1].kind is not ValueType.FLOAT
        ):
            exact += 1
        groups: dict[tuple[str, int | None], list[int]] = {}
        for i in range(exact):
            term = terms[i][1]
            if isinstance(term, KAggregate) and term.func == "sum" and term.operand is not None:
                groups.setdefault((term.group, term.role), []).append(i)
        fused = {i for members in groups.values() if len(members) > 1 for i in members}
        total: Any = None
        for members in groups.values():
            if len(members) < 2:
                continue
            combined: Any = None
            for i in members:
                sign, term = terms[i]
                assert isinstance(term, KAggregate)
                assert term.operand is not None
                value = self._eval(term.operand)
                combined = (
                    (value if sign == "+" else -value)
                    if combined is None
                    else (combined + value if sign == "+" else combined - value)
                )
            summed = self._aggregate_values(terms[members[0]][1], combined)  # type: ignore[arg-type]
            total = summed if total is None else total + summed
        for i, (sign, term) in enumerate(terms):
            if i in fused:
                continue
            value = self._eval(term)
            if total is None:
                total = value if sign == "+" else -value
            else:
                total = total + value if sign == "+" else total - value
        return total

    def _scale(self, node: KScale, base: Any) -> Any:
        thresholds, values = node.thresholds, node.values
        if node.scale_kind == "single_amount":
            index = np.searchsorted(np.asarray(thresholds), base, side="right")
            return np.asarray((0, *values), dtype=np.int64)[index]
        if np.ndim(base) == 0:
            return _scale_scalar(node, base)
        total: Any = None
        last = len(thresholds) - 1
        for i, threshold in enumerate(thresholds):
            if values[i] == 0:
                continue  # adds exactly nothing
            if node.scale_kind == "marginal_amount":
                part = (base > threshold) * values[i]
            else:
                part = np.subtract(base, threshold)
                np.maximum(part, 0, out=part)
                if i < last:
                    np.minimum(part, thresholds[i + 1] - threshold, out=part)
                if values[i] != 1:
                    part *= values[i]
            if total is None:
                total = part
            else:
                total += part
        if total is None:
            total = np.zeros(np.shape(base), dtype=np.int64 if node.den == 1 else np.float64)
        return total / node.den if node.den != 1 else total

    def _aggregate(self, node: KAggregate) -> Any:
        membership = self.population.memberships[node.group]
        if node.func == "count" and node.operand is None:
            return membership.role_count(node.role)
        assert node.operand is not None
        return self._aggregate_values(node, self._eval(node.operand))

    def _aggregate_values(self, node: KAggregate, operand: Any) -> Any:
        membership = self.population.memberships[node.group]
        values = np.broadcast_to(np.asarray(operand), (self.population.count,))
        mask = membership.member_role == node.role if node.role is not None else None
        func = node.func
        if func == "sum":
            values = values if mask is None else values * mask
            if values.dtype.kind == "f":
                return membership.sum_float(values)
            return membership.sum_exact(values)
        if func == "count":
            return membership.count_true(values if mask is None else values & mask)
        if func == "any":
            return membership.count_true(values if mask is None else values & mask) > 0
        if func == "all":
            failing = np.logical_not(values)
            return membership.count_true(failing if mask is None else failing & mask) == 0
        return self._extremum(node, membership, values, mask)

    def _extremum(self, node: KAggregate, membership: Any, values: Array, mask: Any) -> Any:
        func = node.func
        ufunc = np.maximum if func == "max" else np.minimum
        if values.dtype.kind == "M":
            raise AssertionError("max/min of dates is computed on their day numbers")
        if mask is None:
            return membership.reduce(ufunc, np.ascontiguousarray(values), 0)
        info = np.iinfo(np.int64) if values.dtype.kind in "iu" else np.finfo(np.float64)
        neutral = info.min if func == "max" else info.max
        reduced = membership.reduce(ufunc, np.where(mask, values, neutral), 0)
        present = membership.reduce(np.add, mask.astype(np.int64), 0) > 0
        return np.where(present, reduced, 0)
