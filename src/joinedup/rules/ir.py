"""The bound form of a formula: one expression resolved for one period.

Binding (:mod:`joinedup.rules.bind`) turns a formula's expression into these nodes once per
(variable, period): parameters become typed constants with their references, variable
references carry their concrete period, literals take their type, and every node knows its
value type. Both evaluators read this one tree: the columnar one walks it over arrays, the
explaining one compiles it into closures over single values.

Representation of values: money is whole cents (``int``/``int64``) unless ``frac`` says a node
may carry a fraction of a cent (``float``/``float64``, rounded when the variable is stored);
int is ``int``/``int64``; float ``float``/``float64``; bool; date (``date``/``datetime64[D]``);
enum an ``int`` code.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from joinedup.rules.model import EnumType, Reference, ValueType, Variable
from joinedup.rules.periods import Period

_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class ParameterUse:
    """A parameter value a formula used: what it is, its value, since when, by which law."""

    path: str
    label: str
    unit: str
    value: Any
    text: str
    since: date | None
    reference: Reference | None


@dataclass(frozen=True, slots=True)
class BracketUse:
    threshold: Any
    value: Any
    threshold_text: str
    value_text: str


@dataclass(frozen=True, slots=True)
class ScaleUse:
    path: str
    label: str
    kind: str
    brackets: tuple[BracketUse, ...]
    since: date | None
    reference: Reference | None


@dataclass(eq=False, slots=True, kw_only=True)
class Node:
    kind: ValueType
    entity: str
    frac: bool = False
    enum: EnumType | None = None
    nid: int = field(default_factory=lambda: next(_ids))
    # the direct sub-nodes, found once (see :func:`children`): explanations walk them often
    kids: tuple[Node, ...] | None = field(default=None, repr=False)


@dataclass(eq=False, slots=True, kw_only=True)
class KConst(Node):
    value: Any
    text: str


@dataclass(eq=False, slots=True, kw_only=True)
class KParam(Node):
    value: Any
    use: ParameterUse
    entry: dict[str, Any] | None = field(default=None, repr=False)  # for explanations, once


@dataclass(eq=False, slots=True, kw_only=True)
class KVar(Node):
    variable: Variable
    period: Period


@dataclass(eq=False, slots=True, kw_only=True)
class KSumPeriods(Node):
    parts: tuple[KVar, ...]


@dataclass(eq=False, slots=True, kw_only=True)
class KRate(Node):
    """``operand × num / den``: an amount times an exact rate (see :mod:`joinedup.rules.money`).
    ``factor`` is the parameter or literal the rate came from, for explanations."""

    operand: Node
    num: int
    den: int
    factor: Node
    inverse: bool = False


@dataclass(eq=False, slots=True, kw_only=True)
class KArith(Node):
    op: str
    left: Node
    right: Node


@dataclass(eq=False, slots=True, kw_only=True)
class KNeg(Node):
    operand: Node


@dataclass(eq=False, slots=True, kw_only=True)
class KCompare(Node):
    op: str
    left: Node
    right: Node


@dataclass(eq=False, slots=True, kw_only=True)
class KLogic(Node):
    op: str  # "all" or "any"
    items: tuple[Node, ...]


@dataclass(eq=False, slots=True, kw_only=True)
class KNot(Node):
    operand: Node


@dataclass(eq=False, slots=True, kw_only=True)
class KWhere(Node):
    condition: Node
    then: Node
    otherwise: Node


@dataclass(eq=False, slots=True, kw_only=True)
class KExtremum(Node):
    op: str  # "min" or "max"
    items: tuple[Node, ...]


@dataclass(eq=False, slots=True, kw_only=True)
class KRound(Node):
    operand: Node


@dataclass(eq=False, slots=True, kw_only=True)
class KScale(Node):
    """A scale in force at the period. ``marginal_rate``: Σ numᵢ × (base in bracket i) / den;
    ``single_amount``: the amount of the highest threshold ≤ base; ``marginal_amount``: the
    sum of the amounts of the thresholds below base."""

    base: Node
    scale_kind: str
    thresholds: tuple[Any, ...]
    values: tuple[int, ...]  # rate numerators over ``den``, or amounts
    den: int
    use: ScaleUse


@dataclass(eq=False, slots=True, kw_only=True)
class KAggregate(Node):
    group: str
    func: str
    operand: Node | None
    role: int | None
    role_key: str | None


@dataclass(eq=False, slots=True, kw_only=True)
class KProject(Node):
    group: str
    operand: Node


@dataclass(eq=False, slots=True, kw_only=True)
class KHasRole(Node):
    group: str
    role: int
    role_key: str


@dataclass(eq=False, slots=True, kw_only=True)
class KYears(Node):
    operand: Node
    on: date


@dataclass(eq=False, slots=True, kw_only=True)
class KWithin(Node):
    operand: Node
    start: date
    stop: date


@dataclass(eq=False, slots=True, kw_only=True)
class KCondition(Node):
    operand: Node
    met: str | None
    not_met: str | None
    reference: Reference | None


@dataclass(eq=False, slots=True, kw_only=True)
class KNamed(Node):
    operand: Node
    label: str


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-nodes of ``node`` (for walking a bound formula)."""
    found = node.kids
    if found is None:
        found = node.kids = _children(node)
    return found


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case KRate(operand=o) | KNeg(operand=o) | KNot(operand=o) | KRound(operand=o):
            return (o,)
        case KProject(operand=o) | KYears(operand=o) | KWithin(operand=o):
            return (o,)
        case KCondition(operand=o) | KNamed(operand=o):
            return (o,)
        case KArith(left=a, right=b) | KCompare(left=a, right=b):
            return (a, b)
        case KLogic(items=items) | KExtremum(items=items):
            return items
        case KWhere(condition=c, then=t, otherwise=o):
            return (c, t, o)
        case KScale(base=b):
            return (b,)
        case KAggregate(operand=o):
            return () if o is None else (o,)
        case KSumPeriods(parts=parts):
            return parts
        case _:
            return ()


@dataclass(eq=False, slots=True)
class BoundVariable:
    """A variable resolved for one period: the formula version in force (if any) and its
    bound expression. ``status``: ``formula``; ``input`` (no formula: a fact to be given);
    ``not_yet`` (the law did not exist yet); ``ended`` (the law has ended)."""

    variable: Variable
    period: Period
    status: str
    root: Node | None
    since: date | None
    until: date | None
    reference: Reference | None
    deps: tuple[tuple[str, Period], ...]
    scalar: Any = None  # the compiled closure of the explaining evaluator, made on first use
    links: Any = None  # where the formula reads other variables, for explanations (cached)
