"""Plain-language text for bound formulas and their values: conditions ("household income
€1,200.00 is above the income limit of €500.00") and computations ("salary €4,000.00 × the
income tax rate 15%")."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from joinedup.rules.ir import (
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
from joinedup.rules.model import EnumType, ValueType
from joinedup.rules.money import format_money
from joinedup.rules.periods import ETERNITY, Period, Unit

if TYPE_CHECKING:
    from joinedup.rules.explain import Evaluation, Instance

_ABSENT = object()

VERBS = {
    "<=": ("is at most", "is above"),
    "<": ("is below", "is not below"),
    ">=": ("is at least", "is below"),
    ">": ("is above", "is not above"),
    "==": ("is", "is not"),
    "!=": ("is not", "is"),
}
SHORT = {
    "<": "below",
    "<=": "at most",
    ">": "above",
    ">=": "at least",
    "==": "equal to",
    "!=": "other than",
}
SYMBOLS = {"+": "+", "-": "−", "*": "×", "/": "÷"}


def format_value(kind: ValueType, value: Any, enum: EnumType | None = None) -> str:
    if value is _ABSENT:
        return "?"
    if kind is ValueType.MONEY:
        return format_money(value)
    if kind is ValueType.BOOL:
        return "yes" if value else "no"
    if kind is ValueType.ENUM and enum is not None:
        return enum.label(int(value))
    if kind is ValueType.FLOAT:
        return format(float(value), ".10g")
    if kind is ValueType.DATE:
        if value == date.max:
            return "none recorded"
        return value.isoformat() if hasattr(value, "isoformat") else str(value)
    return str(value)


def _article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


class Renderer:
    def __init__(self, evaluation: Evaluation) -> None:
        self.ev = evaluation
        self.situation = evaluation.situation
        self.period: Period = ETERNITY  # the period of the value being explained

    def label_of(self, inst: Instance, *, capital: bool = False) -> str:
        variable = inst.variable
        entity_id = self.situation.ids(variable.entity)[inst.entity_index]
        name = variable.label if capital else variable.sentence_name
        when = "" if inst.period.unit is Unit.ETERNITY else f" for {inst.period}"
        return f"{name}{when} ({variable.entity} {entity_id})"

    # values and names of operands ----------------------------------------------------------

    @staticmethod
    def value_of(node: Node, frame: dict[int, Any]) -> Any:
        if isinstance(node, KConst | KParam):
            return node.value
        found = frame.get(node.nid, _ABSENT)
        if isinstance(node, KAggregate) and isinstance(found, tuple):
            return found[0]
        return found

    def noun(self, node: Node) -> str | None:
        match node:
            case KVar(variable=variable):
                return variable.sentence_name
            case KParam(use=use):
                return use.label
            case KNamed(label=label):
                return label
            case KScale(use=use):
                return use.label
            case KSumPeriods(parts=parts):
                return f"{parts[0].variable.sentence_name} over {len(parts)} months"
            case KProject(group=group, operand=operand):
                inner = self.noun(operand)
                return f"the {group}'s {inner}" if inner else None
            case KYears(operand=operand, on=on):
                return f"years since the {self.noun(operand) or 'date'} on {on.isoformat()}"
            case KAggregate():
                return self.aggregate_noun(node)
            case KCondition(operand=operand):
                return self.noun(operand)
        return None

    def aggregate_noun(self, node: KAggregate) -> str:
        who = node.role_key or "member"
        plural = self._plural(node)
        inner = self.noun(node.operand) if node.operand is not None else None
        if node.func == "sum":
            scope = f" of the {plural}" if node.role_key else ""
            return f"the total {inner or 'amount'}{scope} in the {node.group}"
        if node.func == "count":
            if node.operand is None:
                return f"the number of {plural} in the {node.group}"
            if isinstance(node.operand, KVar):
                return f"the number of {plural} {node.operand.variable.sentence_name}"
            return f"the number of {plural} with {self.phrase(node.operand)}"
        if node.func in ("max", "min"):
            most = "highest" if node.func == "max" else "lowest"
            return f"the {most} {inner or 'value'} of a {who} in the {node.group}"
        return f"{who} of the {node.group}"

    def _plural(self, node: KAggregate) -> str:
        if node.role_key is None:
            return "members"
        entity = self.ev.ruleset.groups[node.group]
        return next(r.plural for r in entity.roles if r.key == node.role_key)

    def term(self, node: Node, value: Any, *, right: bool) -> str:
        noun = self.noun(node)
        shown = format_value(node.kind, value, node.enum)
        if value is _ABSENT:
            return noun or "the value"
        if noun is None:
            return shown
        if node.kind in (ValueType.MONEY, ValueType.DATE):
            return f"{noun} of {shown}" if right and isinstance(node, KParam) else f"{noun} {shown}"
        return f"{noun} ({shown})"

    def phrase(self, node: Node) -> str:
        """A member-level condition without values: "age below 8"."""
        match node:
            case KCompare(op=op, left=left, right=right):
                right_text = self.term(right, self.value_of(right, {}), right=True)
                return f"{self.noun(left) or 'a value'} {SHORT[op]} {right_text}"
            case KCondition(met=met, operand=operand):
                return met or self.phrase(operand)
            case KHasRole(role_key=role):
                return f"the role {role}"
            case KNot(operand=operand):
                return f"not {self.phrase(operand)}"
        return self.noun(node) or "the condition"

    # conditions ------------------------------------------------------------------------------

    def describe(self, node: Node, frame: dict[int, Any], truth: bool) -> str:
        """The statement that ``node`` is ``truth``, with the values that made it so."""
        match node:
            case KCondition(met=met, not_met=not_met, operand=operand):
                custom = met if truth else not_met
                return custom or self.describe(operand, frame, truth)
            case KCompare(op=op, left=left, right=right):
                lt = self.term(left, self.value_of(left, frame), right=False)
                rt = self.term(right, self.value_of(right, frame), right=True)
                return f"{lt} {VERBS[op][0 if truth else 1]} {rt}"
            case KNot(operand=operand):
                return self.describe(operand, frame, not truth)
            case KLogic(op=op, items=items):
                values = [bool(self.value_of(i, frame)) for i in items]
                if op == "all":
                    if truth:
                        return "all of: " + "; ".join(self.describe(i, frame, True) for i in items)
                    failed = [i for i, v in zip(items, values, strict=True) if not v]
                    return "not all of: " + "; ".join(
                        self.describe(i, frame, False) for i in failed
                    )
                if truth:
                    held = [i for i, v in zip(items, values, strict=True) if v]
                    return self.describe(held[0], frame, True) if held else "one of the conditions"
                return "none of: " + " / ".join(self.describe(i, frame, False) for i in items)
            case KAggregate(func="any" | "all"):
                return self.members_text(node, frame, truth)
            case KHasRole(role_key=role):
                return f"is {'' if truth else 'not '}{_article(role)}"
            case KWithin(operand=operand, start=start, stop=stop):
                day = format_value(ValueType.DATE, self.value_of(operand, frame))
                verb = "falls" if truth else "does not fall"
                noun = self.noun(operand) or "the date"
                return f"{noun} {day} {verb} within {start.isoformat()} – {stop.isoformat()}"
            case KVar(variable=variable):
                return variable.sentence_name if truth else f"not {variable.sentence_name}"
        named = self.noun(node)
        return f"{named or 'the condition'}: {'yes' if truth else 'no'}"

    def members_text(self, node: KAggregate, frame: dict[int, Any], truth: bool) -> str:
        who = node.role_key or "member"
        phrase = self.phrase(node.operand) if node.operand is not None else "it"
        if node.func == "any":
            lead = (
                f"{_article(who)} of the {node.group} has"
                if truth
                else f"no {who} of the {node.group} has"
            )
        else:
            lead = (
                f"every {who} of the {node.group} has"
                if truth
                else f"not every {who} of the {node.group} has"
            )
        text = f"{lead} {phrase}"
        recorded = frame.get(node.nid)
        operand = node.operand
        if isinstance(operand, KCompare) and isinstance(operand.left, KVar) and recorded:
            left = operand.left
            ids = self.situation.person_ids
            shown = []
            for person, _ in recorded[1]:
                found = self.ev.memo.get((left.variable.name, left.period, person))
                if found is not None:
                    value = format_value(left.kind, found.value, left.enum)
                    shown.append(f"{ids[person]} {value}")
            if shown:
                text += f" ({left.variable.sentence_name}: {', '.join(shown)})"
        return text

    def scale_steps(self, node: KScale, frame: dict[int, Any]) -> list[str]:
        """How a scale applied to its base, bracket by bracket ("2% of €6,000.00 = €120.00")."""
        base = self.value_of(node.base, frame)
        if base is _ABSENT:
            return []
        money_base = node.base.kind is ValueType.MONEY

        def shown(value: Any) -> str:
            return format_money(value) if money_base else format(value, ".10g")

        thresholds, brackets = node.thresholds, node.use.brackets
        if node.scale_kind == "single_amount":
            reached = [b for t, b in zip(thresholds, brackets, strict=True) if base >= t]
            if not reached:
                return [f"{shown(base)} is below the first bracket: nothing"]
            return [f"{shown(base)} is from {reached[-1].threshold_text}: {reached[-1].value_text}"]
        steps = []
        for k, (threshold, bracket) in enumerate(zip(thresholds, brackets, strict=True)):
            upper = thresholds[k + 1] if k + 1 < len(thresholds) else None
            if node.scale_kind == "marginal_amount":
                if base > threshold:
                    steps.append(f"above {bracket.threshold_text}: {bracket.value_text}")
                continue
            part = max(base - threshold, 0)
            if upper is not None:
                part = min(part, upper - threshold)
            if part <= 0:
                continue
            amount = part * node.values[k] / node.den
            steps.append(
                f"{bracket.value_text} of {shown(part)} (from {bracket.threshold_text}) = "
                f"{shown(amount)}"
            )
        return steps

    # computations ----------------------------------------------------------------------------

    def computation(self, root: Node, frame: dict[int, Any], period: Period) -> str:
        self.period = period
        return self.text(root, frame, top=True)

    def text(self, node: Node, frame: dict[int, Any], *, top: bool = False) -> str:
        value = self.value_of(node, frame)
        shown = format_value(node.kind, value, node.enum)
        match node:
            case KConst(text=text):
                return text
            case KParam(use=use):
                return f"{use.label} {use.text}"
            case KVar(variable=variable, period=period):
                when = "" if period in (self.period, ETERNITY) else f" for {period}"
                return f"{variable.sentence_name}{when} {shown}"
            case KRate(operand=operand, factor=factor, inverse=inverse):
                sign = "÷" if inverse else "×"
                return (
                    f"{self._wrapped(operand, frame, tight=True)} {sign} {self.text(factor, frame)}"
                )
            case KArith(op=op, left=left, right=right):
                a = self._wrapped(left, frame, tight=op in "*/")
                b = self._wrapped(right, frame, tight=op != "+")
                return f"{a} {SYMBOLS[op]} {b}"
            case KNeg(operand=operand):
                return f"−{self._wrapped(operand, frame, tight=True)}"
            case KWhere(condition=condition, then=then, otherwise=otherwise):
                taken = then if frame.get(condition.nid) else otherwise
                return self.text(taken, frame, top=top)
            case KExtremum(op=op, items=items):
                which = "smaller" if op == "min" else "larger"
                parts = " and ".join(self.text(i, frame) for i in items)
                return f"the {which} of {parts}" + ("" if top else f" ({shown})")
            case KRound(operand=operand):
                return f"{self.text(operand, frame)}, rounded to the cent"
            case KScale(use=use, base=base):
                return f"{use.label} applied to {self.text(base, frame)} ({shown})"
            case KNamed(label=label):
                return f"{label} {shown}"
            case KProject(operand=operand):
                return self.text(operand, frame, top=top)
            case KCondition() | KCompare() | KLogic() | KNot():
                return "yes" if value else "no"
        noun = self.noun(node)
        return f"{noun} {shown}" if noun else shown

    def _wrapped(self, node: Node, frame: dict[int, Any], *, tight: bool) -> str:
        """``node``'s text, in brackets when it is a sum inside a product or after a minus."""
        text = self.text(node, frame)
        if tight and isinstance(node, KArith) and node.op in "+-":
            return f"({text})"
        return text
