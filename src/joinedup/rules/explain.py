"""Explained evaluation: the same bound formulas, computed for one household value by value,
keeping what each step found so the result can be explained.

Each bound formula is compiled once into nested closures (cached on the bound variable), so
explaining a household is a few hundred small function calls. While a formula runs, every node
writes its value into the formula's *frame* (a dict by node id); the explanation is read from
the frames afterwards (:mod:`joinedup.rules.explanation`). Inside an aggregation over members
the member-level steps are not kept one by one; the aggregation keeps each member's value.

Arithmetic mirrors the columnar evaluator operation by operation (the same integer products,
the same single divisions, additions in member order, the same rounding), which is what makes
the two modes agree to the cent; a property-based test holds them to it.
"""

from __future__ import annotations

import bisect
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from joinedup.rules.columnar import ARITH, COMPARE, years_between
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
from joinedup.rules.money import round_half_away
from joinedup.rules.periods import Period
from joinedup.rules.situation import MISSING, Situation

Fn = Callable[["Evaluation", int], Any]


@dataclass(slots=True, eq=False)
class Instance:
    """One computed value: of a variable, for one entity, for one period, and how it came."""

    variable: Variable
    period: Period
    entity_index: int
    value: Any
    source: str  # formula | input | default | not_yet | ended
    bound: BoundVariable | None
    frame: dict[int, Any] | None


def finish_value(variable: Variable, value: Any) -> Any:
    kind = variable.value_type
    if kind is ValueType.MONEY:
        return round_half_away(value) if isinstance(value, float) else int(value)
    if kind is ValueType.INT or kind is ValueType.ENUM:
        return int(value)
    if kind is ValueType.FLOAT:
        return float(value)
    if kind is ValueType.BOOL:
        return bool(value)
    return value


class Evaluation:
    """Computes and remembers values for one situation. ``missing`` lists the inputs that were
    needed but not given (their default was used)."""

    __slots__ = ("frame", "memo", "missing", "ruleset", "situation")

    def __init__(self, situation: Situation) -> None:
        self.situation = situation
        self.ruleset = situation.ruleset
        self.memo: dict[tuple[str, Period, int], Instance] = {}
        self.frame: dict[int, Any] = {}
        self.missing: list[Instance] = []

    def value(self, name: str, period: Period, index: int) -> Any:
        found = self.memo.get((name, period, index))
        if found is None:
            found = self.instance(name, period, index)
        return found.value

    def instance(self, name: str, period: Period, index: int) -> Instance:
        key = (name, period, index)
        found = self.memo.get(key)
        if found is not None:
            return found
        given = self.situation.get(name, period, index)
        bound: BoundVariable = self.ruleset.bound(name, period)
        variable = bound.variable
        if given is not MISSING:
            made = Instance(variable, period, index, given, "input", bound, None)
        elif bound.root is None:
            source = "default" if bound.status == "input" else bound.status
            made = Instance(
                variable, period, index, self.ruleset.default(variable), source, bound, None
            )
            if source == "default" and not variable.optional:
                self.missing.append(made)
        else:
            fn = bound.scalar
            if fn is None:
                fn = bound.scalar = compile_node(bound.root, record=True)
            outer, self.frame = self.frame, {}
            try:
                result = finish_value(variable, fn(self, index))
                frame = self.frame
            finally:
                self.frame = outer
            made = Instance(variable, period, index, result, "formula", bound, frame)
        self.memo[key] = made
        return made


def _const(value: Any) -> Fn:
    return lambda ev, i: value


def compile_node(node: Node, *, record: bool) -> Fn:
    """``node`` as a closure ``f(evaluation, entity_index) -> value``."""
    nid = node.nid
    match node:
        case KConst(value=value) | KParam(value=value):
            return _const(value)
        case KVar(variable=variable, period=period):
            name = variable.name

            def var(ev: Evaluation, i: int) -> Any:
                found = ev.memo.get((name, period, i))
                v = found.value if found is not None else ev.instance(name, period, i).value
                if record:
                    ev.frame[nid] = v
                return v

            return var
        case KSumPeriods(parts=parts):
            fns = [compile_node(p, record=record) for p in parts]

            def sum_periods(ev: Evaluation, i: int) -> Any:
                total = fns[0](ev, i)
                for f in fns[1:]:
                    total = total + f(ev, i)
                if record:
                    ev.frame[nid] = total
                return total

            return sum_periods
        case KRate(operand=operand, num=num, den=den):
            f = compile_node(operand, record=record)

            def rate(ev: Evaluation, i: int) -> Any:
                v = f(ev, i)
                if num != 1:
                    v = v * num
                if den != 1:
                    v = v / den
                if record:
                    ev.frame[nid] = v
                return v

            return rate
        case KArith(op=op, left=left, right=right):
            fa, fb = compile_node(left, record=record), compile_node(right, record=record)
            apply = _divide if op == "/" else ARITH[op]
            return _recorded2(apply, fa, fb, nid, record)
        case KNeg(operand=operand):
            return _recorded1(operator.neg, compile_node(operand, record=record), nid, record)
        case KCompare(op=op, left=left, right=right):
            fa, fb = compile_node(left, record=record), compile_node(right, record=record)
            return _recorded2(COMPARE[op], fa, fb, nid, record)
        case KLogic(op=op, items=items):
            fns = [compile_node(item, record=record) for item in items]
            combine = all if op == "all" else any

            def logic(ev: Evaluation, i: int) -> Any:
                # every condition is evaluated (no short cut), so a refusal names them all
                v = combine([f(ev, i) for f in fns])
                if record:
                    ev.frame[nid] = v
                return v

            return logic
        case KNot(operand=operand):
            return _recorded1(operator.not_, compile_node(operand, record=record), nid, record)
        case KWhere(condition=condition, then=then, otherwise=otherwise):
            fc = compile_node(condition, record=record)
            ft, fo = compile_node(then, record=record), compile_node(otherwise, record=record)

            def where(ev: Evaluation, i: int) -> Any:
                v = ft(ev, i) if fc(ev, i) else fo(ev, i)
                if record:
                    ev.frame[nid] = v
                return v

            return where
        case KExtremum(op=op, items=items):
            fns = [compile_node(item, record=record) for item in items]
            pick = min if op == "min" else max

            def extremum(ev: Evaluation, i: int) -> Any:
                v = pick([f(ev, i) for f in fns])
                if record:
                    ev.frame[nid] = v
                return v

            return extremum
        case KRound(operand=operand):
            return _recorded1(_round, compile_node(operand, record=record), nid, record)
        case KScale():
            return _recorded1(
                scale_function(node), compile_node(node.base, record=record), nid, record
            )
        case KAggregate():
            return _aggregate_fn(node, record)
        case KProject(group=group, operand=operand):
            f = compile_node(operand, record=record)

            def project(ev: Evaluation, i: int) -> Any:
                v = f(ev, ev.situation.groups[group].person_group[i])
                if record:
                    ev.frame[nid] = v
                return v

            return project
        case KHasRole(group=group, role=role):

            def has_role(ev: Evaluation, i: int) -> Any:
                v = ev.situation.groups[group].person_role[i] == role
                if record:
                    ev.frame[nid] = v
                return v

            return has_role
        case KYears(operand=operand, on=on):
            return _recorded1(
                lambda d: years_between(d, on), compile_node(operand, record=record), nid, record
            )
        case KWithin(operand=operand, start=start, stop=stop):
            return _recorded1(
                lambda d: start <= d <= stop, compile_node(operand, record=record), nid, record
            )
        case KCondition(operand=operand) | KNamed(operand=operand):
            return _recorded1(_identity, compile_node(operand, record=record), nid, record)
    raise AssertionError(f"no explained evaluation for {type(node).__name__}")


def _identity(v: Any) -> Any:
    return v


def _round(v: Any) -> Any:
    return round_half_away(v) if isinstance(v, float) else v


def _divide(a: Any, b: Any) -> Any:
    return a / b if b != 0 else 0.0


def _recorded1(apply: Callable[[Any], Any], f: Fn, nid: int, record: bool) -> Fn:
    if not record:
        return lambda ev, i: apply(f(ev, i))

    def step(ev: Evaluation, i: int) -> Any:
        v = apply(f(ev, i))
        ev.frame[nid] = v
        return v

    return step


def _recorded2(apply: Callable[[Any, Any], Any], fa: Fn, fb: Fn, nid: int, record: bool) -> Fn:
    if not record:
        return lambda ev, i: apply(fa(ev, i), fb(ev, i))

    def step(ev: Evaluation, i: int) -> Any:
        v = apply(fa(ev, i), fb(ev, i))
        ev.frame[nid] = v
        return v

    return step


def scale_function(node: KScale) -> Callable[[Any], Any]:
    """A scale in force as a function of its base (one value)."""
    thresholds, values, den = node.thresholds, node.values, node.den
    last = len(thresholds) - 1
    if node.scale_kind == "single_amount":
        amounts = (0, *values)
        return lambda base: amounts[bisect.bisect_right(thresholds, base)]
    if node.scale_kind == "marginal_amount":

        def marginal_amount(base: Any) -> Any:
            total = 0
            for threshold, amount in zip(thresholds, values, strict=True):
                total = total + (amount if base > threshold else 0)
            return total

        return marginal_amount

    def marginal_rate(base: Any) -> Any:
        total: Any = 0
        for k, threshold in enumerate(thresholds):
            part = max(base - threshold, 0)
            if k < last:
                part = min(part, thresholds[k + 1] - threshold)
            total = total + part * values[k]
        return total / den if den != 1 else total

    return marginal_rate


def _aggregate_fn(node: KAggregate, record: bool) -> Fn:
    group, func, role, nid = node.group, node.func, node.role, node.nid
    f = compile_node(node.operand, record=False) if node.operand is not None else None

    def aggregate(ev: Evaluation, i: int) -> Any:
        situation_group = ev.situation.groups[group]
        members = situation_group.members[i]
        if role is not None:
            roles = situation_group.person_role
            members = [p for p in members if roles[p] == role]
        values = [f(ev, p) for p in members] if f is not None else [True] * len(members)
        v: Any
        if func == "sum":
            v = 0
            for item in values:
                v = v + item
        elif func == "count":
            v = sum(1 for item in values if item)
        elif func == "any":
            v = any(values)
        elif func == "all":
            v = all(values)
        elif values:
            v = max(values) if func == "max" else min(values)
        else:
            v = 0
        if record:
            ev.frame[nid] = (v, list(zip(members, values, strict=True)))
        return v

    return aggregate
