"""The straightforward explanation, to hold the fast one to: every value's details worked out
afresh by walking its formula (no plan kept per formula, no text kept per phrase), and every
sentence written part by part. It is the explanation code as it was before it was made
cheaper (joinedup.rules.explanation, .verdicts, .wording), kept here word for word in what it
computes; only the renderer (joinedup.rules.render) and the values' vocabulary are shared."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal, format_percent

from joinedup.core import i18n
from joinedup.rules.explain import Evaluation, Instance
from joinedup.rules.formula_walk import evaluated_nodes, unwrap, variable_links
from joinedup.rules.ir import (
    KAggregate,
    KCondition,
    KLogic,
    KNot,
    KParam,
    KScale,
    KWhere,
    Node,
    children,
)
from joinedup.rules.model import Reference, ValueType, Variable
from joinedup.rules.money import format_money, round_half_away, to_decimal
from joinedup.rules.render import Renderer
from joinedup.rules.vocabulary import format_value, value_part
from joinedup.rules.wording import SOURCE, Joined, Language, Part, Phrase, Text, Value

_ABSENT = object()

_RULE_IN_FORCE = {
    (True, False, True): "Rule in force since %(since)s (%(citation)s).",
    (True, False, False): "Rule in force since %(since)s.",
    (False, True, True): "Rule in force until %(until)s (%(citation)s).",
    (False, True, False): "Rule in force until %(until)s.",
    (True, True, True): "Rule in force since %(since)s until %(until)s (%(citation)s).",
    (True, True, False): "Rule in force since %(since)s until %(until)s.",
    (False, False, True): "Rule: %(citation)s.",
}


# wording ---------------------------------------------------------------------------------------


def text_of(part: Part, language: Language = SOURCE) -> str:
    """``part`` in ``language``, written afresh."""
    if isinstance(part, str):
        return part
    if isinstance(part, Phrase):
        words = part.id if language is SOURCE else language.translate(part.id)
        if not part.args:
            return words
        return words % {name: text_of(p, language) for name, p in part.args.items()}
    if isinstance(part, Text):
        words = part.words if language is SOURCE else language.translate(part.words)
        return words[:1].lower() + words[1:] if part.lower else words
    if isinstance(part, Joined):
        return part.sep.join(text_of(item, language) for item in part.items)
    assert isinstance(part, Value)
    return value_text(part, language.locale)


def value_text(part: Value, locale: str) -> str:
    kind, value = part.kind, part.value
    if locale == i18n.SOURCE_LOCALE:
        if kind == "money":
            assert isinstance(value, int | float)
            return format_money(value)
        return f"{value}%" if kind == "percent" else str(value)
    try:
        if kind == "money":
            assert isinstance(value, int | float)
            cents = round_half_away(value) if isinstance(value, float) else int(value)
            return format_currency(Decimal(cents).scaleb(-2), "EUR", locale=locale)
        if kind == "date":
            return format_date(date.fromisoformat(str(value)), format="medium", locale=locale)
        number = Decimal(str(value))
        if kind == "percent":
            return format_percent(
                number.scaleb(-2), locale=locale, decimal_quantization=False, group_separator=False
            )
        return format_decimal(
            number, locale=locale, decimal_quantization=False, group_separator=False
        )
    except (ArithmeticError, InvalidOperation, ValueError, AssertionError):
        return value_text(part, i18n.SOURCE_LOCALE)


def dict_of(part: Part) -> Any:
    if isinstance(part, str):
        return part
    if isinstance(part, Phrase):
        if not part.args:
            return {"id": part.id}
        return {"id": part.id, "args": {k: dict_of(v) for k, v in part.args.items()}}
    if isinstance(part, Text):
        return {"text": part.words, "lower": True} if part.lower else {"text": part.words}
    if isinstance(part, Joined):
        return {"join": [dict_of(item) for item in part.items], "sep": part.sep}
    return {part.kind: part.value}


# conditions and verdicts -------------------------------------------------------------------


class Condition:
    def __init__(
        self,
        text: str,
        met: bool,
        reference: Reference | None,
        children: list[Condition],
        phrase: Part | None,
    ) -> None:
        self.text, self.met, self.reference = text, met, reference
        self.children, self.phrase = children, phrase

    def as_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "met": self.met,
            "reference": self.reference.as_dict() if self.reference else None,
            "conditions": [c.as_dict() for c in self.children],
        }


class ReferenceVerdict:
    def __init__(self, met: bool, word: str, conditions: list[Condition]) -> None:
        self.met, self.word, self.conditions = met, word, conditions

    def phrase(self) -> Phrase:
        conditions: list[Part] = []
        for c in self.conditions:
            part = c.phrase if c.phrase is not None else Text(c.text)
            if c.reference is not None:
                part = Phrase(
                    "%(condition)s (%(citation)s)",
                    {"condition": part, "citation": c.reference.citation},
                )
            conditions.append(part)
        return Phrase(
            "%(verdict)s: %(conditions)s.",
            {"verdict": Text(self.word), "conditions": Joined(tuple(conditions), "; ")},
        )

    def sentence(self, language: Language = SOURCE) -> str:
        return text_of(self.phrase(), language)

    def as_dict(self) -> dict[str, Any]:
        conditions = []
        for c in self.conditions:
            entry: dict[str, Any] = {
                "text": c.text,
                "citation": c.reference.citation if c.reference else None,
            }
            if c.phrase is not None and c.phrase != Text(c.text):
                entry["parts"] = dict_of(c.phrase)
            conditions.append(entry)
        return {"met": self.met, "word": self.word, "conditions": conditions}


# the explanation -------------------------------------------------------------------------------


def json_value(variable: Variable, value: Any) -> Any:
    kind = variable.value_type
    if kind is ValueType.MONEY:
        return float(to_decimal(value))
    if kind is ValueType.DATE and isinstance(value, date):
        return value.isoformat()
    if kind is ValueType.ENUM and variable.enum is not None:
        return variable.enum.keys[value]
    return value


class ReferenceExplainer:
    """An explanation of ``roots`` as the straightforward code writes it."""

    def __init__(self, evaluation: Evaluation, roots: list[Instance]) -> None:
        self.ev = evaluation
        self.situation = evaluation.situation
        self.render = Renderer(evaluation)
        self.roots = roots
        self.graph: dict[Instance, list[Instance]] = {}
        stack = list(roots)
        while stack:
            inst = stack.pop()
            if inst in self.graph:
                continue
            bound = inst.bound
            deps = (
                self.dependencies(inst)
                if bound is not None and bound.root is not None and inst.source == "formula"
                else []
            )
            self.graph[inst] = deps
            stack.extend(deps)
        self.phrases: list[Phrase] = []
        for inst in roots:
            self.phrases.extend(self.phrases_of(inst))
        if evaluation.missing:
            assumed = tuple(
                Phrase(
                    "%(noun)s (%(value)s)",
                    {
                        "noun": self.render.label_of(m),
                        "value": value_part(m.variable.value_type, m.value, m.variable.enum),
                    },
                )
                for m in evaluation.missing
            )
            self.phrases.append(
                Phrase(
                    "Not given, so the defaults were assumed: %(values)s.",
                    {"values": Joined(assumed, "; ")},
                )
            )

    def key(self, inst: Instance) -> str:
        entity = inst.variable.entity
        entity_id = self.situation.ids(entity)[inst.entity_index]
        return f"{inst.variable.name}/{inst.period}/{entity}/{entity_id}"

    def dependencies(self, inst: Instance) -> list[Instance]:
        assert inst.bound is not None
        links: list[Any] = []
        variable_links(inst.bound.root, (), links)
        groups = self.situation.groups
        out: list[Instance] = []
        for node, path in links:
            indexes = [inst.entity_index]
            for step, group, role in path:
                g = groups[group]
                if step == "group":
                    indexes = [g.person_group[i] for i in indexes]
                else:
                    indexes = [
                        p
                        for i in indexes
                        for p in g.members[i]
                        if role is None or g.person_role[p] == role
                    ]
            for index in indexes:
                dep = self.ev.memo.get((node.variable.name, node.period, index))
                if dep is not None and dep not in out:
                    out.append(dep)
        return out

    # what the document says ----------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        seen: set[Instance] = set(self.roots)
        results = []
        for inst in self.roots:
            seen.discard(inst)
            results.append(self.tree(inst, seen))
        situation = self.situation
        return {
            "ruleset": situation.ruleset.name,
            "complete": not self.ev.missing,
            "sentences": [text_of(p) for p in self.phrases],
            "sentence_parts": [dict_of(p) for p in self.phrases],
            "missing": [
                {
                    "variable": m.variable.name,
                    "entity": m.variable.entity,
                    "id": situation.ids(m.variable.entity)[m.entity_index],
                    "period": str(m.period),
                    "assumed": json_value(m.variable, m.value),
                }
                for m in self.ev.missing
            ],
            "results": results,
        }

    def tree(self, inst: Instance, seen: set[Instance]) -> dict[str, Any]:
        node = self.value(inst)
        seen.add(inst)
        node["inputs"] = [
            {"see": self.key(dep)} if dep in seen else self.tree(dep, seen)
            for dep in self.graph.get(inst, [])
        ]
        return node

    def value(self, inst: Instance) -> dict[str, Any]:
        """One value's details, its inputs by key."""
        variable, bound = inst.variable, inst.bound
        frame = inst.frame or {}
        root = bound.root if bound is not None and inst.source == "formula" else None
        formula = None
        if inst.source == "formula" and bound is not None:
            formula = {
                "since": bound.since.isoformat() if bound.since else None,
                "until": bound.until.isoformat() if bound.until else None,
                "reference": bound.reference.as_dict() if bound.reference else None,
            }
        return {
            "key": self.key(inst),
            "variable": variable.name,
            "label": variable.label,
            "entity": variable.entity,
            "id": self.situation.ids(variable.entity)[inst.entity_index],
            "period": str(inst.period),
            "value": json_value(variable, inst.value),
            "text": format_value(variable.value_type, inst.value, variable.enum),
            "source": inst.source,
            "formula": formula,
            "reference": variable.reference.as_dict() if variable.reference else None,
            "computation": text_of(self.render.computation(root, frame, inst.period))
            if root is not None
            else None,
            "conditions": [c.as_dict() for c in self.conditions(root, frame)]
            if root is not None
            else [],
            "parameters": self.parameters(root, frame) if root is not None else [],
            "inputs": [self.key(dep) for dep in self.graph.get(inst, [])],
        }

    def parameters(self, root: Node, frame: dict[int, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for node in evaluated_nodes(root, frame):
            entry: dict[str, Any]
            if isinstance(node, KParam):
                use = node.use
                entry = {
                    "parameter": use.path,
                    "label": use.label,
                    "value": use.text,
                    "since": use.since.isoformat() if use.since else None,
                    "reference": use.reference.as_dict() if use.reference else None,
                }
            elif isinstance(node, KScale):
                scale = node.use
                entry = {
                    "parameter": scale.path,
                    "label": scale.label,
                    "scale": scale.kind,
                    "brackets": [
                        {"threshold": b.threshold_text, "value": b.value_text}
                        for b in scale.brackets
                    ],
                    "since": scale.since.isoformat() if scale.since else None,
                    "reference": scale.reference.as_dict() if scale.reference else None,
                    "applied": self.render.scale_steps(node, frame),
                }
            else:
                continue
            if entry not in found:
                found.append(entry)
        return found

    def conditions(self, root: Node, frame: dict[int, Any]) -> list[Condition]:
        out: list[Condition] = []
        self._collect(root, frame, out, top=True)
        return out

    def _collect(
        self, node: Node, frame: dict[int, Any], out: list[Condition], *, top: bool
    ) -> None:
        if (node.kind is ValueType.BOOL and not top) or isinstance(node, KCondition):
            result = self.condition(node, frame)
            if result is not None:
                out.append(result)
            return
        if isinstance(node, KAggregate):
            return
        if isinstance(node, KWhere) and node.nid in frame:
            self._collect(node.condition, frame, out, top=False)
            taken = node.then if frame.get(node.condition.nid) else node.otherwise
            self._collect(taken, frame, out, top=False)
            return
        if node.kind is ValueType.BOOL and top and isinstance(node, KLogic):
            for item in node.items:
                self._collect(item, frame, out, top=False)
            return
        for child in children(node):
            self._collect(child, frame, out, top=False)

    def condition(self, node: Node, frame: dict[int, Any]) -> Condition | None:
        value = frame.get(node.nid, _ABSENT)
        if value is _ABSENT:
            return None
        met = bool(value if not isinstance(value, tuple) else value[0])
        phrase = self.render.describe(node, frame, met)
        reference = node.reference if isinstance(node, KCondition) else None
        inner = node.operand if isinstance(node, KCondition | KNot) else node
        sub: list[Condition] = []
        if isinstance(inner, KLogic):
            for item in inner.items:
                found = self.condition(item, frame)
                if found is not None:
                    sub.append(found)
        return Condition(text_of(phrase), met, reference, sub, phrase)

    # sentences -------------------------------------------------------------------------------

    def phrases_of(self, inst: Instance) -> list[Phrase]:
        variable, bound = inst.variable, inst.bound
        lines = [
            Phrase(
                "%(name)s: %(value)s.",
                {
                    "name": self.render.label_of(inst, capital=True),
                    "value": value_part(variable.value_type, inst.value, variable.enum),
                },
            )
        ]
        if inst.source == "input":
            return [*lines, Phrase("Given as an input.")]
        if inst.source == "default":
            return [*lines, Phrase("Not given; the default value was assumed.")]
        if inst.source == "not_yet":
            first = variable.formulas[0].start
            return [
                *lines,
                Phrase("Not in force yet: the rules start on %(day)s.", {"day": _day(first)}),
            ]
        if inst.source == "ended":
            return [
                *lines,
                Phrase(
                    "No longer in force: the rules ended on %(day)s.", {"day": _day(variable.end)}
                ),
            ]
        assert bound is not None
        assert bound.root is not None
        frame = inst.frame or {}
        verdict = self.verdict(inst)
        if verdict:
            lines.append(verdict.phrase())
        if variable.value_type is not ValueType.BOOL and not (verdict and inst.value in (0, False)):
            lines.append(
                Phrase(
                    "Computed as %(computation)s.",
                    {"computation": self.render.computation(bound.root, frame, inst.period)},
                )
            )
        message = _RULE_IN_FORCE.get(
            (bound.since is not None, bound.until is not None, bound.reference is not None)
        )
        if message is not None:
            args: dict[str, Part] = {}
            if bound.since is not None:
                args["since"] = _day(bound.since)
            if bound.until is not None:
                args["until"] = _day(bound.until)
            if bound.reference is not None:
                args["citation"] = bound.reference.citation
            lines.append(Phrase(message, args))
        return lines

    def verdict(self, inst: Instance) -> ReferenceVerdict | None:
        bound = inst.bound
        if inst.source != "formula" or bound is None or bound.root is None:
            return None
        found = self.conditions(bound.root, inst.frame or {})
        variable = inst.variable
        root = unwrap(bound.root)
        if not found or not (isinstance(root, KWhere) or variable.value_type is ValueType.BOOL):
            return None
        yes, no = variable.verdicts
        if variable.value_type is ValueType.BOOL:
            met = bool(inst.value)
        else:
            assert isinstance(root, KWhere)
            met = bool((inst.frame or {}).get(root.condition.nid, False))
        flat: list[Condition] = []
        for c in found:
            if c.children and c.reference is None and c.text.startswith(("all of", "not all of")):
                flat.extend(c.children)
            else:
                flat.append(c)
        chosen = [c for c in flat if c.met == met] or flat
        return ReferenceVerdict(met, yes if met else no, chosen)


def _day(day: date | None) -> Part:
    return Value("date", day.isoformat()) if day is not None else "?"


def in_language(locale: str) -> Language:
    """A language for the reference's own writing (the catalogue's words, Babel's values)."""
    if locale == i18n.SOURCE_LOCALE:
        return SOURCE
    return Language(locale, i18n.translations(locale).gettext)


__all__ = [
    "ReferenceExplainer",
    "ReferenceVerdict",
    "dict_of",
    "in_language",
    "text_of",
    "value_text",
]
