"""Plain-language text for bound formulas and their values: conditions ("household income
€1,200.00 is above the income limit of €500.00") and computations ("salary €4,000.00 × the
income tax rate 15%").

Each is made in parts (:mod:`joinedup.rules.wording`), so that it reads in any language: the
fixed words and operators are message ids (``N_()``), the labels are the ruleset's own texts
(translated where the ruleset marked them ``N_()``), the values are written the reader's way.
:func:`~joinedup.rules.wording.english` gives the English text.
"""

from __future__ import annotations

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
from joinedup.rules.model import N_, ValueType
from joinedup.rules.money import format_money
from joinedup.rules.periods import ETERNITY, Period, Unit
from joinedup.rules.vocabulary import (
    ABSENT,
    NO,
    NOUN_VALUE,
    SHORT,
    SYMBOLS,
    VERBS,
    YES,
    name_of,
    value_part,
    with_article,
    word_for,
)
from joinedup.rules.wording import Joined, Part, Phrase, Text, Value

if TYPE_CHECKING:
    from joinedup.rules.explain import Evaluation, Instance


class Renderer:
    def __init__(self, evaluation: Evaluation) -> None:
        self.ev = evaluation
        self.situation = evaluation.situation
        self.period: Period = ETERNITY  # the period of the value being explained

    def label_of(self, inst: Instance, *, capital: bool = False) -> Part:
        variable = inst.variable
        args: dict[str, Part] = {
            "name": name_of(variable, capital=capital),
            "entity": self._group_word(variable.entity),
            "id": str(self.situation.ids(variable.entity)[inst.entity_index]),
        }
        if inst.period.unit is Unit.ETERNITY:
            return Phrase(N_("%(name)s (%(entity)s %(id)s)"), args)
        args["period"] = str(inst.period)
        return Phrase(N_("%(name)s for %(period)s (%(entity)s %(id)s)"), args)

    def _group_word(self, key: str) -> Part:
        entity = self.ev.ruleset.entities.get(key)
        return word_for(key, entity.label if entity is not None else None)

    def _role_word(self, group: str, role_key: str) -> Part:
        entity = self.ev.ruleset.groups.get(group)
        role = next((r for r in entity.roles if r.key == role_key), None) if entity else None
        return word_for(role_key, role.label if role is not None else None)

    # values and names of operands ----------------------------------------------------------

    @staticmethod
    def value_of(node: Node, frame: dict[int, Any]) -> Any:
        if isinstance(node, KConst | KParam):
            return node.value
        found = frame.get(node.nid, ABSENT)
        if isinstance(node, KAggregate) and isinstance(found, tuple):
            return found[0]
        return found

    def noun(self, node: Node) -> Part | None:
        match node:
            case KVar(variable=variable):
                return name_of(variable)
            case KParam(use=use):
                return Text(use.label)
            case KNamed(label=label):
                return Text(label)
            case KScale(use=use):
                return Text(use.label)
            case KSumPeriods(parts=parts):
                return Phrase(
                    N_("%(noun)s over %(count)s months"),
                    {"noun": name_of(parts[0].variable), "count": Value("number", str(len(parts)))},
                )
            case KProject(group=group, operand=operand):
                inner = self.noun(operand)
                if inner is None:
                    return None
                return Phrase(
                    N_("the %(group)s's %(noun)s"),
                    {"group": self._group_word(group), "noun": inner},
                )
            case KYears(operand=operand, on=on):
                day = Value("date", on.isoformat())
                inner = self.noun(operand)
                if inner is None:
                    return Phrase(N_("years since the date on %(day)s"), {"day": day})
                return Phrase(
                    N_("years since the %(noun)s on %(day)s"), {"noun": inner, "day": day}
                )
            case KAggregate():
                return self.aggregate_noun(node)
            case KCondition(operand=operand):
                return self.noun(operand)
        return None

    def aggregate_noun(self, node: KAggregate) -> Part:
        group = self._group_word(node.group)
        inner = self.noun(node.operand) if node.operand is not None else None
        if node.func == "sum":
            total = inner or Phrase(N_("amount"))
            if node.role_key:
                return Phrase(
                    N_("the total %(noun)s of the %(members)s in the %(group)s"),
                    {"noun": total, "members": self._plural(node), "group": group},
                )
            return Phrase(
                N_("the total %(noun)s in the %(group)s"), {"noun": total, "group": group}
            )
        if node.func == "count":
            members = self._plural(node)
            if node.operand is None:
                return Phrase(
                    N_("the number of %(members)s in the %(group)s"),
                    {"members": members, "group": group},
                )
            if isinstance(node.operand, KVar):
                return Phrase(
                    N_("the number of %(members)s %(noun)s"),
                    {"members": members, "noun": name_of(node.operand.variable)},
                )
            return Phrase(
                N_("the number of %(members)s with %(condition)s"),
                {"members": members, "condition": self.phrase(node.operand)},
            )
        if node.func in ("max", "min"):
            most = (
                N_("the highest %(noun)s of a %(member)s in the %(group)s")
                if node.func == "max"
                else N_("the lowest %(noun)s of a %(member)s in the %(group)s")
            )
            return Phrase(
                most,
                {"noun": inner or Phrase(N_("value")), "member": self._who(node), "group": group},
            )
        return Phrase(
            N_("%(member)s of the %(group)s"), {"member": self._who(node), "group": group}
        )

    def _who(self, node: KAggregate) -> Part:
        if node.role_key is None:
            return Phrase(N_("member"))
        return self._role_word(node.group, node.role_key)

    def _plural(self, node: KAggregate) -> Part:
        if node.role_key is None:
            return Phrase(N_("members"))
        entity = self.ev.ruleset.groups[node.group]
        return Text(next(r.plural for r in entity.roles if r.key == node.role_key))

    def term(self, node: Node, value: Any, *, right: bool) -> Part:
        noun = self.noun(node)
        if value is ABSENT:
            return noun or Phrase(N_("the value"))
        shown = value_part(node.kind, value, node.enum)
        if noun is None:
            return shown
        args = {"noun": noun, "value": shown}
        if node.kind in (ValueType.MONEY, ValueType.DATE):
            if right and isinstance(node, KParam):
                return Phrase(N_("%(noun)s of %(value)s"), args)
            return Phrase(NOUN_VALUE, args)
        return Phrase(N_("%(noun)s (%(value)s)"), args)

    def phrase(self, node: Node) -> Part:
        """A member-level condition without values: "age below 8"."""
        match node:
            case KCompare(op=op, left=left, right=right):
                right_text = self.term(right, self.value_of(right, {}), right=True)
                left_text = self.noun(left) or Phrase(N_("a value"))
                return Phrase(SHORT[op], {"left": left_text, "right": right_text})
            case KCondition(met=met, operand=operand):
                return Text(met) if met else self.phrase(operand)
            case KHasRole(group=group, role_key=role):
                return Phrase(N_("the role %(role)s"), {"role": self._role_word(group, role)})
            case KNot(operand=operand):
                return Phrase(N_("not %(condition)s"), {"condition": self.phrase(operand)})
        return self.noun(node) or Phrase(N_("the condition"))

    # conditions ------------------------------------------------------------------------------

    def describe(self, node: Node, frame: dict[int, Any], truth: bool) -> Part:
        """The statement that ``node`` is ``truth``, with the values that made it so."""
        match node:
            case KCondition(met=met, not_met=not_met, operand=operand):
                custom = met if truth else not_met
                return Text(custom) if custom else self.describe(operand, frame, truth)
            case KCompare(op=op, left=left, right=right):
                lt = self.term(left, self.value_of(left, frame), right=False)
                rt = self.term(right, self.value_of(right, frame), right=True)
                return Phrase(VERBS[op][0 if truth else 1], {"left": lt, "right": rt})
            case KNot(operand=operand):
                return self.describe(operand, frame, not truth)
            case KLogic(op=op, items=items):
                values = [bool(self.value_of(i, frame)) for i in items]
                if op == "all":
                    if truth:
                        every = tuple(self.describe(i, frame, True) for i in items)
                        return Phrase(
                            N_("all of: %(conditions)s"), {"conditions": Joined(every, "; ")}
                        )
                    failed = tuple(
                        self.describe(i, frame, False)
                        for i, v in zip(items, values, strict=True)
                        if not v
                    )
                    return Phrase(
                        N_("not all of: %(conditions)s"), {"conditions": Joined(failed, "; ")}
                    )
                if truth:
                    held = [i for i, v in zip(items, values, strict=True) if v]
                    if held:
                        return self.describe(held[0], frame, True)
                    return Phrase(N_("one of the conditions"))
                none = tuple(self.describe(i, frame, False) for i in items)
                return Phrase(N_("none of: %(conditions)s"), {"conditions": Joined(none, " / ")})
            case KAggregate(func="any" | "all"):
                return self.members_text(node, frame, truth)
            case KHasRole(group=group, role_key=role):
                word = with_article(role, self._role_word(group, role))
                return Phrase(N_("is %(role)s") if truth else N_("is not %(role)s"), {"role": word})
            case KWithin(operand=operand, start=start, stop=stop):
                args: dict[str, Part] = {
                    "noun": self.noun(operand) or Phrase(N_("the date")),
                    "day": value_part(ValueType.DATE, self.value_of(operand, frame)),
                    "start": Value("date", start.isoformat()),
                    "stop": Value("date", stop.isoformat()),
                }
                if truth:
                    return Phrase(N_("%(noun)s %(day)s falls within %(start)s – %(stop)s"), args)
                return Phrase(
                    N_("%(noun)s %(day)s does not fall within %(start)s – %(stop)s"), args
                )
            case KVar(variable=variable):
                name = name_of(variable)
                return name if truth else Phrase(N_("not %(condition)s"), {"condition": name})
        named = self.noun(node) or Phrase(N_("the condition"))
        return Phrase(N_("%(noun)s: %(value)s"), {"noun": named, "value": YES if truth else NO})

    def members_text(self, node: KAggregate, frame: dict[int, Any], truth: bool) -> Part:
        who = self._who(node)
        args: dict[str, Part] = {
            "member": who,
            "group": self._group_word(node.group),
            "condition": (
                self.phrase(node.operand) if node.operand is not None else Phrase(N_("it"))
            ),
        }
        if node.func == "any":
            if truth:
                args["member"] = with_article(node.role_key or "member", who)
                text = Phrase(N_("%(member)s of the %(group)s has %(condition)s"), args)
            else:
                text = Phrase(N_("no %(member)s of the %(group)s has %(condition)s"), args)
        elif truth:
            text = Phrase(N_("every %(member)s of the %(group)s has %(condition)s"), args)
        else:
            text = Phrase(N_("not every %(member)s of the %(group)s has %(condition)s"), args)
        recorded = frame.get(node.nid)
        operand = node.operand
        if isinstance(operand, KCompare) and isinstance(operand.left, KVar) and recorded:
            left = operand.left
            ids = self.situation.person_ids
            shown: list[Part] = []
            for person, _ in recorded[1]:
                found = self.ev.memo.get((left.variable.name, left.period, person))
                if found is not None:
                    value = value_part(left.kind, found.value, left.enum)
                    shown.append(Joined((str(ids[person]), value), " "))
            if shown:
                return Phrase(
                    N_("%(condition)s (%(noun)s: %(values)s)"),
                    {
                        "condition": text,
                        "noun": name_of(left.variable),
                        "values": Joined(tuple(shown), ", "),
                    },
                )
        return text

    def scale_steps(self, node: KScale, frame: dict[int, Any]) -> list[str]:
        """How a scale applied to its base, bracket by bracket ("2% of €6,000.00 = €120.00")."""
        base = self.value_of(node.base, frame)
        if base is ABSENT:
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

    def computation(self, root: Node, frame: dict[int, Any], period: Period) -> Part:
        self.period = period
        return self.text(root, frame, top=True)

    def text(self, node: Node, frame: dict[int, Any], *, top: bool = False) -> Part:
        value = self.value_of(node, frame)
        match node:
            case KConst():
                return _constant(node)
            case KParam(use=use):
                return Phrase(NOUN_VALUE, {"noun": Text(use.label), "value": _parameter(node)})
            case KVar(variable=variable, period=period):
                args: dict[str, Part] = {
                    "noun": name_of(variable),
                    "value": value_part(node.kind, value, node.enum),
                }
                if period in (self.period, ETERNITY):
                    return Phrase(NOUN_VALUE, args)
                args["period"] = str(period)
                return Phrase(N_("%(noun)s for %(period)s %(value)s"), args)
            case KRate(operand=operand, factor=factor, inverse=inverse):
                return Phrase(
                    SYMBOLS["/" if inverse else "*"],
                    {
                        "left": self._wrapped(operand, frame, tight=True),
                        "right": self.text(factor, frame),
                    },
                )
            case KArith(op=op, left=left, right=right):
                a = self._wrapped(left, frame, tight=op in "*/")
                b = self._wrapped(right, frame, tight=op != "+")
                return Phrase(SYMBOLS[op], {"left": a, "right": b})
            case KNeg(operand=operand):
                return Phrase(
                    N_("−%(value)s"), {"value": self._wrapped(operand, frame, tight=True)}
                )
            case KWhere(condition=condition, then=then, otherwise=otherwise):
                taken = then if frame.get(condition.nid) else otherwise
                return self.text(taken, frame, top=top)
            case KExtremum(op=op, items=items):
                parts = self.text(items[0], frame)
                for item in items[1:]:
                    parts = Phrase(
                        N_("%(left)s and %(right)s"),
                        {"left": parts, "right": self.text(item, frame)},
                    )
                which = (
                    N_("the smaller of %(values)s")
                    if op == "min"
                    else N_("the larger of %(values)s")
                )
                whole = Phrase(which, {"values": parts})
                if top:
                    return whole
                return Phrase(
                    N_("%(computation)s (%(value)s)"),
                    {"computation": whole, "value": value_part(node.kind, value, node.enum)},
                )
            case KRound(operand=operand):
                return Phrase(
                    N_("%(computation)s, rounded to the cent"),
                    {"computation": self.text(operand, frame)},
                )
            case KScale(use=use, base=base):
                return Phrase(
                    N_("%(scale)s applied to %(base)s (%(value)s)"),
                    {
                        "scale": Text(use.label),
                        "base": self.text(base, frame),
                        "value": value_part(node.kind, value, node.enum),
                    },
                )
            case KNamed(label=label):
                shown = value_part(node.kind, value, node.enum)
                return Phrase(NOUN_VALUE, {"noun": Text(label), "value": shown})
            case KProject(operand=operand):
                return self.text(operand, frame, top=top)
            case KCondition() | KCompare() | KLogic() | KNot():
                return YES if value else NO
        noun = self.noun(node)
        shown = value_part(node.kind, value, node.enum)
        return Phrase(NOUN_VALUE, {"noun": noun, "value": shown}) if noun else shown

    def _wrapped(self, node: Node, frame: dict[int, Any], *, tight: bool) -> Part:
        """``node``'s text, in brackets when it is a sum inside a product or after a minus."""
        text = self.text(node, frame)
        if tight and isinstance(node, KArith) and node.op in "+-":
            return Joined(("(", text, ")"))
        return text


def _constant(node: KConst) -> Part:
    """A literal of a formula, as binding wrote it ("3", "€0.00", "yes")."""
    kind = node.kind
    if kind is ValueType.MONEY:
        return value_part(kind, node.value)
    if kind in (ValueType.INT, ValueType.FLOAT):
        return Value("number", node.text)
    if kind is ValueType.BOOL:
        return YES if node.value else NO
    if kind is ValueType.DATE:
        return Value("date", node.text)
    if kind is ValueType.ENUM:
        return Text(node.text)
    return node.text


def _parameter(node: KParam) -> Part:
    """A parameter's value, as binding wrote it ("€120.00", "80%", "18")."""
    use = node.use
    if node.kind is ValueType.BOOL:
        return YES if node.value else NO
    if node.kind is ValueType.MONEY:
        return value_part(ValueType.MONEY, node.value)
    if use.unit == "rate" and use.text.endswith("%"):
        return Value("percent", use.text[:-1])
    return Value("number", use.text)
