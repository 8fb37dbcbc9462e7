"""The formula language: a formula is written once, as an expression tree, in plain Python::

    where(
        cond(household.sum(salary) <= param("benefits.parenting_allowance.income_threshold"),
             reference=Reference("Parenting Allowance Act §3(2)")),
        param("benefits.parenting_allowance.amount"),
        0,
    )

Operators build nodes (``+ - * /``, comparisons, ``&`` ``|`` ``~`` for and/or/not); nothing is
computed while writing. The same tree is evaluated for a whole population in columns
(:mod:`joinedup.rules.columnar`) and for one household with its explanation
(:mod:`joinedup.rules.explain`). An expression has no truth value, so a Python ``if`` or
``and`` on one fails loudly instead of silently doing the wrong thing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Literal as Lit

from joinedup.rules.model import Reference

Literal = int | float | Decimal | bool | date | str


class Expr:
    """A node of a formula. Combine with operators; see the module docstring."""

    __slots__ = ()

    def __add__(self, other: Expr | Literal) -> Expr:
        return Arith("+", self, lift(other))

    def __radd__(self, other: Expr | Literal) -> Expr:
        return Arith("+", lift(other), self)

    def __sub__(self, other: Expr | Literal) -> Expr:
        return Arith("-", self, lift(other))

    def __rsub__(self, other: Expr | Literal) -> Expr:
        return Arith("-", lift(other), self)

    def __mul__(self, other: Expr | Literal) -> Expr:
        return Arith("*", self, lift(other))

    def __rmul__(self, other: Expr | Literal) -> Expr:
        return Arith("*", lift(other), self)

    def __truediv__(self, other: Expr | Literal) -> Expr:
        return Arith("/", self, lift(other))

    def __rtruediv__(self, other: Expr | Literal) -> Expr:
        return Arith("/", lift(other), self)

    def __neg__(self) -> Expr:
        return Neg(self)

    def __eq__(self, other: Expr | Literal) -> Expr:  # type: ignore[override]
        return Compare("==", self, lift(other))

    def __ne__(self, other: Expr | Literal) -> Expr:  # type: ignore[override]
        return Compare("!=", self, lift(other))

    def __lt__(self, other: Expr | Literal) -> Expr:
        return Compare("<", self, lift(other))

    def __le__(self, other: Expr | Literal) -> Expr:
        return Compare("<=", self, lift(other))

    def __gt__(self, other: Expr | Literal) -> Expr:
        return Compare(">", self, lift(other))

    def __ge__(self, other: Expr | Literal) -> Expr:
        return Compare(">=", self, lift(other))

    def __and__(self, other: Expr) -> Expr:
        return AllOf((self, other))

    def __or__(self, other: Expr) -> Expr:
        return AnyOf((self, other))

    def __invert__(self) -> Expr:
        return Not(self)

    __hash__ = object.__hash__

    def __bool__(self) -> bool:
        raise TypeError(
            "a rule expression has no truth value while it is being written: "
            "combine conditions with & | ~ (or all_of/any_of/not_) and choose with where()"
        )


def lift(value: Expr | Literal) -> Expr:
    return value if isinstance(value, Expr) else Const(value)


@dataclass(frozen=True, eq=False, slots=True)
class Const(Expr):
    """A literal. Plain numbers take the type of what they meet (``salary == 0`` compares with
    zero euros); ``money("1.00")`` is explicitly an amount."""

    value: Literal
    is_money: bool = False


def money(amount: str | int | Decimal) -> Const:
    """An amount in euros written in a formula, e.g. ``money("1.00")``."""
    return Const(Decimal(amount), is_money=True)


PeriodShift = Lit["same", "this_year", "first_month", "last_month", "last_year", "last_months"]


@dataclass(frozen=True, eq=False, slots=True)
class Var(Expr):
    """The value of a variable for the same entity, for the period being computed or a period
    derived from it (``.at(this_year)``, ``.sum_last_months(3)``)."""

    name: str
    shift: PeriodShift = "same"
    months: int = 0

    def at(self, shift: PeriodShift) -> Var:
        return Var(self.name, shift)

    def sum_last_months(self, months: int) -> Var:
        """The sum over the ``months`` whole months before the period (a month variable)."""
        return Var(self.name, "last_months", months)


@dataclass(frozen=True, eq=False, slots=True)
class Param(Expr):
    """A parameter's value in force on the first day of the period."""

    path: str


@dataclass(frozen=True, eq=False, slots=True)
class Arith(Expr):
    op: Lit["+", "-", "*", "/"]
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Neg(Expr):
    operand: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Compare(Expr):
    op: Lit["==", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False, slots=True)
class AllOf(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True, eq=False, slots=True)
class AnyOf(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True, eq=False, slots=True)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Where(Expr):
    condition: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Extremum(Expr):
    op: Lit["min", "max"]
    items: tuple[Expr, ...]


@dataclass(frozen=True, eq=False, slots=True)
class RoundCents(Expr):
    operand: Expr


@dataclass(frozen=True, eq=False, slots=True)
class ScaleCalc(Expr):
    """A bracket scale applied to a base (its kind decides how: marginal rate, …)."""

    path: str
    base: Expr


AggregateFunc = Lit["sum", "any", "all", "count", "max", "min"]


@dataclass(frozen=True, eq=False, slots=True)
class Aggregate(Expr):
    """A group's value computed over its members (optionally those holding one role)."""

    group: str
    func: AggregateFunc
    operand: Expr | None
    role: str | None = None


@dataclass(frozen=True, eq=False, slots=True)
class Project(Expr):
    """The value of a member's group, seen from the member."""

    group: str
    operand: Expr


@dataclass(frozen=True, eq=False, slots=True)
class HasRole(Expr):
    group: str
    role: str


@dataclass(frozen=True, eq=False, slots=True)
class Day:
    """A day relative to the period being computed: its first or last day, or a fixed day of
    its year (``Day.of_year(9, 1)``: 1 September)."""

    kind: Lit["start", "stop", "of_year"] = "start"
    month: int = 1
    day: int = 1

    @staticmethod
    def of_year(month: int, day: int) -> Day:
        return Day("of_year", month, day)


@dataclass(frozen=True, eq=False, slots=True)
class YearsSince(Expr):
    """Whole years completed from a date to a day (an age)."""

    operand: Expr
    on: Day = Day()


@dataclass(frozen=True, eq=False, slots=True)
class PeriodDay(Expr):
    """A day of the period being computed, as a date (its first day by default)."""

    on: Day = Day()


@dataclass(frozen=True, eq=False, slots=True)
class WithinPeriod(Expr):
    """Whether a date falls within the period being computed."""

    operand: Expr


@dataclass(frozen=True, eq=False, slots=True)
class Condition(Expr):
    """A condition of the law, with how to say it met and not met, and where it is written."""

    operand: Expr
    met: str | None = None
    not_met: str | None = None
    reference: Reference | None = None


@dataclass(frozen=True, eq=False, slots=True)
class Named(Expr):
    """A sub-result with a name for explanations ("household salaries")."""

    operand: Expr
    label: str


# The writing vocabulary -----------------------------------------------------------------------


def var(name: str) -> Var:
    return Var(name)


def param(path: str) -> Param:
    return Param(path)


def where(condition: Expr, then: Expr | Literal, otherwise: Expr | Literal) -> Expr:
    return Where(condition, lift(then), lift(otherwise))


def min_(*items: Expr | Literal) -> Expr:
    return Extremum("min", tuple(lift(i) for i in items))


def max_(*items: Expr | Literal) -> Expr:
    return Extremum("max", tuple(lift(i) for i in items))


def all_of(*items: Expr) -> Expr:
    return AllOf(tuple(items))


def any_of(*items: Expr) -> Expr:
    return AnyOf(tuple(items))


def not_(item: Expr) -> Expr:
    return Not(item)


def cond(
    expr: Expr,
    *,
    met: str | None = None,
    not_met: str | None = None,
    reference: Reference | None = None,
) -> Expr:
    return Condition(expr, met, not_met, reference)


def named(expr: Expr | Literal, label: str) -> Expr:
    return Named(lift(expr), label)


def round_cents(expr: Expr) -> Expr:
    return RoundCents(expr)


def scale(path: str, base: Expr) -> Expr:
    return ScaleCalc(path, base)


def years_since(date_expr: Expr, on: Day | None = None) -> Expr:
    return YearsSince(date_expr, on or Day())


def period_day(on: Day | None = None) -> Expr:
    return PeriodDay(on or Day())


def within_period(date_expr: Expr) -> Expr:
    return WithinPeriod(date_expr)


class Group:
    """A group entity seen from inside a formula: ``household.sum(salary, role="adult")``."""

    def __init__(self, key: str) -> None:
        self.key = key

    def sum(self, operand: Expr, *, role: str | None = None) -> Expr:
        return Aggregate(self.key, "sum", operand, role)

    def any(self, condition: Expr, *, role: str | None = None) -> Expr:
        return Aggregate(self.key, "any", condition, role)

    def all(self, condition: Expr, *, role: str | None = None) -> Expr:
        return Aggregate(self.key, "all", condition, role)

    def count(self, condition: Expr | None = None, *, role: str | None = None) -> Expr:
        return Aggregate(self.key, "count", condition, role)

    def max(self, operand: Expr, *, role: str | None = None) -> Expr:
        return Aggregate(self.key, "max", operand, role)

    def min(self, operand: Expr, *, role: str | None = None) -> Expr:
        return Aggregate(self.key, "min", operand, role)

    def value(self, operand: Expr) -> Expr:
        """The group's value of ``operand``, seen by each member."""
        return Project(self.key, operand)

    def has_role(self, role: str) -> Expr:
        return HasRole(self.key, role)


def walk(expr: Expr) -> Iterator[Expr]:
    """Every node of ``expr``, depth first (what a formula reads: ``Var``, ``Param``, …)."""
    yield expr
    for f in fields(expr):  # type: ignore[arg-type]
        value = getattr(expr, f.name)
        if isinstance(value, Expr):
            yield from walk(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Expr):
                    yield from walk(item)
