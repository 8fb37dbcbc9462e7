"""Binding: a formula's expression resolved for one period into typed nodes (:mod:`ir`).

Done once per (variable, period) and cached on the ruleset, so neither evaluator looks up a
parameter, a date or a type while computing. Type rules, briefly: amounts add to amounts; an
amount times a rate is an amount (exact, see :mod:`joinedup.rules.money`); an amount divided
by an amount is a ratio; plain numbers take the type of what they meet; conditions are bools.
A mistake in a ruleset raises ``RulesetDefinitionError`` naming the variable and period.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction

from joinedup.rules import expr as x
from joinedup.rules.bind_values import (
    NUMERIC,
    B,
    D,
    E,
    F,
    Lit,
    M,
    N,
    ValueBinder,
    decimal_of,
)
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
    KProject,
    KRate,
    KRound,
    KSumPeriods,
    KVar,
    KWhere,
    KWithin,
    KYears,
    Node,
)
from joinedup.rules.model import Variable
from joinedup.rules.periods import ETERNITY, Period, Unit
from joinedup.rules.ruleset import Ruleset, UnknownVariable


def bind_variable(ruleset: Ruleset, variable: Variable, period: Period) -> BoundVariable:
    day = period.start if period is not ETERNITY else date.min
    in_force = variable.formula_at(day)
    if in_force is None:
        if variable.is_input:
            status = "input"
        elif variable.end is not None and day > variable.end:
            status = "ended"
        else:
            status = "not_yet"
        return BoundVariable(variable, period, status, None, None, None, variable.reference, ())
    binder = _Binder(ruleset, variable, period)
    root = binder.finish(binder.bind(in_force.formula.expr, variable.entity))
    return BoundVariable(
        variable,
        period,
        "formula",
        root,
        in_force.since,
        in_force.until,
        in_force.formula.reference or variable.reference,
        tuple(binder.deps),
    )


class _Binder(ValueBinder):
    """The expression side: variables, arithmetic, comparisons, choices, aggregations."""

    # binding ----------------------------------------------------------------------------------

    def bind(self, e: x.Expr, entity: str) -> Node | Lit:
        match e:
            case x.Const(value=value, is_money=True):
                return self.lit_to(Lit(decimal_of(value)), M, entity)
            case x.Const(value=value):
                if isinstance(value, bool | date | str):
                    return Lit(value)
                return Lit(decimal_of(value))
            case x.Var():
                return self.bind_var(e, entity)
            case x.Param(path=path):
                return self.bind_param(path, entity)
            case x.Arith(op=op, left=left, right=right):
                return self.arith(op, self.bind(left, entity), self.bind(right, entity), entity)
            case x.Neg(operand=operand):
                inner = self.bind(operand, entity)
                if isinstance(inner, Lit):
                    return Lit(-decimal_of(inner.value))
                if inner.kind not in (M, N, F):
                    self.fail("only numbers and amounts can be negated")
                return KNeg(kind=inner.kind, entity=entity, frac=inner.frac, operand=inner)
            case x.Compare(op=op, left=left, right=right):
                return self.compare(op, self.bind(left, entity), self.bind(right, entity), entity)
            case x.AllOf(items=items) | x.AnyOf(items=items):
                bound = tuple(self.condition(i, entity) for i in items)
                which = "all" if isinstance(e, x.AllOf) else "any"
                return KLogic(kind=B, entity=entity, op=which, items=bound)
            case x.Not(operand=operand):
                return KNot(kind=B, entity=entity, operand=self.condition(operand, entity))
            case x.Where(condition=c, then=then, otherwise=otherwise):
                test = self.condition(c, entity)
                a, b = self.unify([self.bind(then, entity), self.bind(otherwise, entity)], entity)
                kind = F if F in (a.kind, b.kind) else a.kind
                return KWhere(
                    kind=kind,
                    entity=entity,
                    frac=a.frac or b.frac,
                    enum=a.enum,
                    condition=test,
                    then=a,
                    otherwise=b,
                )
            case x.Extremum(op=op, items=items):
                nodes = self.unify([self.bind(i, entity) for i in items], entity)
                kinds = {n.kind for n in nodes}
                if not kinds <= {M, N, F, D}:
                    self.fail(f"{op}() takes numbers, amounts or dates")
                kind = F if F in kinds else nodes[0].kind
                frac = any(n.frac for n in nodes)
                return KExtremum(kind=kind, entity=entity, frac=frac, op=op, items=tuple(nodes))
            case x.RoundCents(operand=operand):
                inner = self.bind(operand, entity)
                if isinstance(inner, Lit) or inner.kind is not M:
                    self.fail("round_cents() takes an amount")
                return KRound(kind=M, entity=entity, operand=inner)
            case x.ScaleCalc(path=path, base=base):
                return self.bind_scale(path, self.bind(base, entity), entity)
            case x.Aggregate():
                return self.aggregate(e, entity)
            case x.Project(group=group, operand=operand):
                if entity != self.rs.person.key or group not in self.rs.groups:
                    self.fail(f"{group}.value() is used in a person formula, about a group")
                inner = self.bind(operand, group)
                if isinstance(inner, Lit):
                    return inner
                return KProject(
                    kind=inner.kind,
                    entity=entity,
                    frac=inner.frac,
                    enum=inner.enum,
                    group=group,
                    operand=inner,
                )
            case x.HasRole(group=group, role=role):
                if entity != self.rs.person.key or group not in self.rs.groups:
                    self.fail(f"{group}.has_role() is used in a person formula")
                code = self.role(group, role)
                return KHasRole(kind=B, entity=entity, group=group, role=code, role_key=role)
            case x.YearsSince(operand=operand, on=on):
                inner = self.bind(operand, entity)
                if isinstance(inner, Lit) or inner.kind is not D:
                    self.fail("years_since() takes a date")
                return KYears(kind=N, entity=entity, operand=inner, on=self.day_of(on))
            case x.PeriodDay(on=on):
                day = self.day_of(on)
                return KConst(kind=D, entity=entity, value=day, text=day.isoformat())
            case x.WithinPeriod(operand=operand):
                inner = self.bind(operand, entity)
                if isinstance(inner, Lit) or inner.kind is not D:
                    self.fail("within_period() takes a date")
                return KWithin(
                    kind=B,
                    entity=entity,
                    operand=inner,
                    start=self.period.start,
                    stop=self.period.stop,
                )
            case x.Condition(operand=operand, met=met, not_met=not_met, reference=reference):
                inner = self.condition(operand, entity)
                return KCondition(
                    kind=B,
                    entity=entity,
                    operand=inner,
                    met=met,
                    not_met=not_met,
                    reference=reference,
                )
            case x.Named(operand=operand, label=label):
                inner = self.bind(operand, entity)
                if isinstance(inner, Lit):
                    return inner
                return KNamed(
                    kind=inner.kind,
                    entity=entity,
                    frac=inner.frac,
                    enum=inner.enum,
                    operand=inner,
                    label=label,
                )
        self.fail(f"cannot bind {type(e).__name__}")
        return None

    def condition(self, e: x.Expr, entity: str) -> Node:
        node = self.bind(e, entity)
        if isinstance(node, Lit) or node.kind is not B:
            self.fail("a condition must be a yes/no expression")
        return node

    def role(self, group: str, role: str) -> int:
        try:
            return self.rs.groups[group].role_index(role)
        except KeyError as exc:
            self.fail(str(exc))

    def day_of(self, on: x.Day) -> date:
        if on.kind == "start":
            return self.period.start
        if on.kind == "stop":
            return self.period.stop
        return date(self.period.start.year, on.month, on.day)

    def bind_var(self, e: x.Var, entity: str) -> Node:
        try:
            target = self.rs.variable(e.name)
        except UnknownVariable:
            self.fail(f"no variable '{e.name}'")
        if target.entity != entity:
            self.fail(
                f"{e.name} belongs to {target.entity}; inside a {entity} formula use "
                "<group>.sum(...) / <group>.value(...)"
            )
        unit, here = target.period, self.period
        if unit is Unit.ETERNITY:
            period = ETERNITY
        elif e.shift == "same":
            if unit is not here.unit:
                self.fail(f"{e.name} is per {unit.value}: say which one (.at(this_year), …)")
            period = here
        elif e.shift == "last_months":
            if unit is not Unit.MONTH or target.value_type not in (M, N, F):
                self.fail(f"{e.name}: only monthly numbers and amounts can be summed over months")
            parts = tuple(
                self.var_node(target, p, entity)
                for p in here.last_months(e.months).subperiods(Unit.MONTH)
            )
            return KSumPeriods(kind=target.value_type, entity=entity, parts=parts)
        else:
            wanted = {
                "this_year": (Unit.YEAR, here.this_year),
                "first_month": (Unit.MONTH, here.first_month),
                "last_month": (Unit.MONTH, here.last_month),
                "last_year": (Unit.YEAR, here.last_year),
            }[e.shift]
            if unit is not wanted[0]:
                self.fail(f"{e.name} is per {unit.value}, not per {wanted[0].value}")
            period = wanted[1]
        return self.var_node(target, period, entity)

    def var_node(self, target: Variable, period: Period, entity: str) -> KVar:
        self.deps[(target.name, period)] = None
        return KVar(
            kind=target.value_type, entity=entity, enum=target.enum, variable=target, period=period
        )

    def arith(self, op: str, left: Node | Lit, right: Node | Lit, entity: str) -> Node | Lit:
        if isinstance(left, Lit) and isinstance(right, Lit):
            x1, x2 = decimal_of(left.value), decimal_of(right.value)
            if op == "/" and x2 == 0:
                self.fail("division by zero")
            return Lit({"+": x1 + x2, "-": x1 - x2, "*": x1 * x2, "/": x1 / x2}[op])
        lk = left.kind if isinstance(left, Node) else None
        rk = right.kind if isinstance(right, Node) else None
        if M in (lk, rk):
            return self.money_arith(op, left, right, entity)
        a, b = self.numeric(left, entity), self.numeric(right, entity)
        kind = N if a.kind is N and b.kind is N and op != "/" else F
        return KArith(kind=kind, entity=entity, op=op, left=a, right=b)

    def money_arith(self, op: str, left: Node | Lit, right: Node | Lit, entity: str) -> Node:
        if op in "+-":
            a, b = self.unify([left, right], entity)
            if a.kind is not M or b.kind is not M:
                self.fail("an amount can only be added to another amount")
            return KArith(kind=M, entity=entity, frac=a.frac or b.frac, op=op, left=a, right=b)
        lk = left.kind if isinstance(left, Node) else None
        rk = right.kind if isinstance(right, Node) else None
        if op == "*":
            if lk is M and rk is M:
                self.fail("two amounts cannot be multiplied")
            amount, other = (left, right) if lk is M else (right, left)
            assert isinstance(amount, Node)
            factor = self.exact_factor(other)
            if factor is not None:
                return self.rate(amount, factor, other, entity, inverse=False)
            if not isinstance(other, Node) or other.kind not in NUMERIC:
                self.fail(
                    "an amount can only be multiplied by a number (use where() for a condition)"
                )
            frac = amount.frac or other.kind is F
            return KArith(kind=M, entity=entity, frac=frac, op="*", left=left, right=right)  # type: ignore[arg-type]
        if lk is M and rk is M:
            assert isinstance(left, Node)
            assert isinstance(right, Node)
            return KArith(kind=F, entity=entity, op="/", left=left, right=right)
        if lk is not M:
            self.fail("a number cannot be divided by an amount")
        assert isinstance(left, Node)
        factor = self.exact_factor(right)
        if factor is not None:
            if factor == 0:
                self.fail("division by zero")
            return self.rate(left, 1 / factor, right, entity, inverse=True)
        assert isinstance(right, Node)
        if right.kind not in NUMERIC:
            self.fail("an amount can only be divided by a number or an amount")
        return KArith(kind=M, entity=entity, frac=True, op="/", left=left, right=right)

    def rate(
        self, amount: Node, factor: Fraction, source: Node | Lit, entity: str, *, inverse: bool
    ) -> Node:
        shown = source if isinstance(source, Node) else self.lit_to(source, F, entity)
        return KRate(
            kind=M,
            entity=entity,
            frac=amount.frac or factor.denominator != 1,
            operand=amount,
            num=factor.numerator,
            den=factor.denominator,
            factor=shown,
            inverse=inverse,
        )

    def compare(self, op: str, left: Node | Lit, right: Node | Lit, entity: str) -> Node:
        if isinstance(left, Lit) and isinstance(right, Lit):
            self.fail("a comparison of two constants is always the same")
        a, b = self.unify([left, right], entity)
        kinds = {a.kind, b.kind}
        if kinds <= {B, E} and op not in ("==", "!="):
            self.fail(f"yes/no and enum values can only be compared with == and !=, not {op}")
        if not (kinds <= NUMERIC or len(kinds) == 1):
            self.fail(f"cannot compare a {a.kind.value} with a {b.kind.value}")
        return KCompare(kind=B, entity=entity, op=op, left=a, right=b)

    def aggregate(self, e: x.Aggregate, entity: str) -> Node:
        if e.group != entity or e.group not in self.rs.groups:
            self.fail(f"{e.group}.{e.func}() is used in a {e.group} formula")
        role = self.role(e.group, e.role) if e.role is not None else None
        person = self.rs.person.key
        operand = self.bind(e.operand, person) if e.operand is not None else None
        if isinstance(operand, Lit):
            self.fail(f"{e.group}.{e.func}() needs a member's value, not a constant")
        if e.func == "sum":
            if operand is None or operand.kind not in (M, N, F):
                self.fail("sum() adds numbers or amounts")
            kind, frac = operand.kind, operand.frac
        elif e.func in ("any", "all"):
            if operand is None or operand.kind is not B:
                self.fail(f"{e.func}() takes a condition")
            kind, frac = B, False
        elif e.func == "count":
            if operand is not None and operand.kind is not B:
                self.fail("count() takes a condition (or none, to count members)")
            kind, frac = N, False
        else:
            if operand is None or operand.kind not in (M, N, F):
                self.fail(f"{e.func}() takes numbers or amounts")
            kind, frac = operand.kind, operand.frac
        return KAggregate(
            kind=kind,
            entity=entity,
            frac=frac,
            group=e.group,
            func=e.func,
            operand=operand,
            role=role,
            role_key=e.role,
        )
