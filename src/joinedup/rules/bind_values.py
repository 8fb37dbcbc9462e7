"""Binding, the value side: literals taking their type, parameters and scales resolved at the
period's first day into typed constants carrying their legal references. Used by
:mod:`joinedup.rules.bind`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import NoReturn

from joinedup.rules.ir import BracketUse, KConst, KParam, KScale, Node, ParameterUse, ScaleUse
from joinedup.rules.model import RulesetDefinitionError, ValueType, Variable
from joinedup.rules.money import format_money
from joinedup.rules.parameters import Parameter, ParameterNotInForce, Scale
from joinedup.rules.periods import ETERNITY, Period
from joinedup.rules.ruleset import Ruleset

M, N, F, B, D, E = (
    ValueType.MONEY,
    ValueType.INT,
    ValueType.FLOAT,
    ValueType.BOOL,
    ValueType.DATE,
    ValueType.ENUM,
)
NUMERIC = {N, F}


@dataclass(frozen=True, slots=True)
class Lit:
    """A literal whose type is decided by what it meets."""

    value: Decimal | bool | date | str


def decimal_of(value: object) -> Decimal:
    if isinstance(value, float):
        return Decimal(repr(value))
    assert isinstance(value, int | Decimal)
    return Decimal(value)


def number_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def percent(value: Decimal) -> str:
    return number_text(value * 100) + "%"


class ValueBinder:
    """Typing, literals, parameters and scales: the value side of binding."""

    def __init__(self, ruleset: Ruleset, variable: Variable, period: Period) -> None:
        self.rs = ruleset
        self.variable = variable
        self.period = period
        self.day = period.start if period is not ETERNITY else date.min
        self.deps: dict[tuple[str, Period], None] = {}

    def fail(self, message: str) -> NoReturn:
        raise RulesetDefinitionError(
            f"{self.rs.name}.{self.variable.name} ({self.period}): {message}"
        )

    # literals and coercion -------------------------------------------------------------------

    def lit_to(self, lit: Lit, kind: ValueType, entity: str, node: Node | None = None) -> Node:
        value = lit.value
        if kind is M and isinstance(value, Decimal):
            cents = value * 100
            exact = cents == cents.to_integral_value()
            engine = int(cents) if exact else float(cents)
            return KConst(
                kind=M, entity=entity, frac=not exact, value=engine, text=format_money(engine)
            )
        if kind in NUMERIC and isinstance(value, Decimal):
            if kind is N and value == value.to_integral_value():
                return KConst(kind=N, entity=entity, value=int(value), text=number_text(value))
            return KConst(kind=F, entity=entity, value=float(value), text=number_text(value))
        if kind is B and isinstance(value, bool):
            return KConst(kind=B, entity=entity, value=value, text="yes" if value else "no")
        if kind is D and isinstance(value, date):
            return KConst(kind=D, entity=entity, value=value, text=value.isoformat())
        if kind is E and isinstance(value, str) and node is not None and node.enum is not None:
            try:
                code = node.enum.code(value)
            except KeyError as exc:
                self.fail(str(exc))
            return KConst(
                kind=E, entity=entity, enum=node.enum, value=code, text=node.enum.label(code)
            )
        self.fail(f"the literal {value!r} cannot be a {kind.value}")
        return None

    def numeric(self, item: Node | Lit, entity: str) -> Node:
        if isinstance(item, Lit):
            return self.lit_to(item, N, entity)
        if item.kind not in NUMERIC:
            self.fail(f"expected a number, got a {item.kind.value}")
        return item

    def unify(self, items: list[Node | Lit], entity: str) -> list[Node]:
        nodes = [i for i in items if isinstance(i, Node)]
        kinds = {n.kind for n in nodes}
        if not kinds:
            hint = self.variable.value_type
            target = hint if hint in (M, N, F) else N
            if all(isinstance(i, Lit) and isinstance(i.value, bool) for i in items):
                target = B
            return [self.lit_to(i, target, entity) for i in items if isinstance(i, Lit)]
        if kinds <= NUMERIC:
            target = F if F in kinds else N
            return [i if isinstance(i, Node) else self.lit_to(i, target, entity) for i in items]
        if len(kinds) != 1:
            names = " and ".join(sorted(k.value for k in kinds))
            self.fail(f"values of different types cannot be combined or compared: {names}")
        kind = kinds.pop()
        enums = {n.enum.name for n in nodes if n.enum is not None}
        if len(enums) > 1:
            self.fail(f"values of different enums cannot be combined: {sorted(enums)}")
        return [i if isinstance(i, Node) else self.lit_to(i, kind, entity, nodes[0]) for i in items]

    def finish(self, root: Node | Lit) -> Node:
        want = self.variable.value_type
        entity = self.variable.entity
        if isinstance(root, Lit):
            return self.lit_to(root, want, entity)
        ok = root.kind is want or (want is F and root.kind is N)
        if want is E and ok and (root.enum is None or root.enum != self.variable.enum):
            ok = False
        if not ok:
            self.fail(f"the formula gives a {root.kind.value}, the variable is a {want.value}")
        return root

    def lookup(self, path: str) -> Parameter | Scale:
        try:
            return self.rs.parameters.get(path)
        except KeyError:
            self.fail(f"no parameter '{path}'")

    def not_in_force(self, item: Parameter | Scale) -> NoReturn:
        raise ParameterNotInForce(
            f"The rules for {self.variable.name} in {self.period} need '{item.description}' "
            f"({item.path}), which has no value on {self.day.isoformat()}.",
            parameter=item.path,
            variable=self.variable.name,
            period=str(self.period),
        )

    def bind_param(self, path: str, entity: str) -> Node:
        item = self.lookup(path)
        if isinstance(item, Scale):
            self.fail(f"{path} is a scale: use scale('{path}', base)")
        dated = item.at(self.day)
        if dated is None:
            self.not_in_force(item)
        raw = dated.value
        reference = dated.reference or item.reference
        if item.unit == "bool" or isinstance(raw, bool):
            value: object = bool(raw)
            kind, text = B, "yes" if raw else "no"
        else:
            assert isinstance(raw, Decimal)
            if item.unit in ("currency", "currency_per_unit"):
                cents = raw * 100
                exact = cents == cents.to_integral_value()
                value = int(cents) if exact else float(cents)
                kind, text = M, format_money(int(cents) if exact else float(cents))
            elif item.unit == "rate":
                value, kind, text = float(raw), F, percent(raw)
            elif raw == raw.to_integral_value():
                value, kind, text = int(raw), N, number_text(raw)
            else:
                value, kind, text = float(raw), F, number_text(raw)
        use = ParameterUse(path, item.label, item.unit, raw, text, dated.start, reference)
        frac = kind is M and isinstance(value, float)
        return KParam(kind=kind, entity=entity, frac=frac, value=value, use=use)

    def exact_factor(self, item: Node | Lit) -> Fraction | None:
        if isinstance(item, Lit):
            return Fraction(item.value) if isinstance(item.value, Decimal) else None
        if (
            isinstance(item, KParam)
            and item.kind in NUMERIC
            and isinstance(item.use.value, Decimal)
        ):
            return Fraction(item.use.value)
        return None

    def bind_scale(self, path: str, base: Node | Lit, entity: str) -> Node:
        item = self.lookup(path)
        if not isinstance(item, Scale):
            self.fail(f"{path} is not a scale")
        brackets = item.at(self.day)
        if not brackets:
            self.not_in_force(item)
        money_base = item.threshold_unit in ("currency", "currency_per_unit")
        node = self.lit_to(base, M if money_base else F, entity) if isinstance(base, Lit) else base
        if (money_base and node.kind is not M) or (not money_base and node.kind not in NUMERIC):
            self.fail(f"the base of {path} must be a {'amount' if money_base else 'number'}")

        def threshold(value: Decimal) -> int | float:
            scaled = value * 100 if money_base else value
            return int(scaled) if scaled == scaled.to_integral_value() else float(scaled)

        def shown(value: Decimal, money: bool) -> str:
            return format_money(int(value * 100)) if money else number_text(value)

        thresholds = tuple(threshold(b.threshold) for b in brackets)
        if item.kind == "marginal_rate":
            fractions = [Fraction(b.value) for b in brackets]
            den = math.lcm(*(f.denominator for f in fractions))
            values = tuple(int(f * den) for f in fractions)
            kind = M if money_base else F
            frac = den != 1 or node.frac or not money_base
            value_texts = [percent(b.value) for b in brackets]
        else:
            den = 1
            values = tuple(int(b.value * 100) for b in brackets)
            kind, frac = M, False
            value_texts = [format_money(v) for v in values]
        use = ScaleUse(
            path,
            item.label,
            item.kind,
            tuple(
                BracketUse(b.threshold, b.value, shown(b.threshold, money_base), text)
                for b, text in zip(brackets, value_texts, strict=True)
            ),
            max(b.since for b in brackets),
            item.reference,
        )
        return KScale(
            kind=kind,
            entity=entity,
            frac=frac,
            base=node,
            scale_kind=item.kind,
            thresholds=thresholds,
            values=values,
            den=den,
            use=use,
        )
