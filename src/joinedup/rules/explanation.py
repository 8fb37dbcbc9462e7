"""Why and why not: an explanation read from an explained evaluation.

For every value involved it gives the formula version in force (since, until, legal reference),
the conditions with their values, the parameter values used (bracket scales included), the
values it was computed from, and for the values asked about, plain-language sentences::

    Parenting allowance for 2017-01: €0.00.
    Not eligible: household income €1,200.00 is above the income limit of €500.00
    (Parenting Allowance Act §3(2)).

Inputs that were needed but not given are named, with the default that was assumed.

The sentences are written in English and kept in parts as well (``sentence_parts``: a message
id with named arguments each, :mod:`joinedup.rules.wording`), from which a page or letter
writes them in the reader's language (:func:`~joinedup.rules.wording.sentences_in_language`).
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from joinedup.rules.explain import Evaluation, Instance
from joinedup.rules.explanation_plans import Branch, KeptRenderer, plan_of, worded
from joinedup.rules.formula_walk import unwrap, variable_links
from joinedup.rules.ir import (
    BoundVariable,
    KCondition,
    KLogic,
    KNot,
    KScale,
    KVar,
    KWhere,
    Node,
)
from joinedup.rules.model import N_, Reference, ValueType, Variable
from joinedup.rules.money import to_decimal
from joinedup.rules.render import Renderer
from joinedup.rules.situation import Situation
from joinedup.rules.verdicts import ConditionResult, Explained, Verdict, value_document
from joinedup.rules.vocabulary import format_value, value_part
from joinedup.rules.wording import (
    Joined,
    Part,
    Phrase,
    Value,
    english,
)

_ABSENT: Any = object()
#: Amounts of cents below this are exact in a float: divided by 100, they round as the exact
#: decimal amount does.
_EXACT_CENTS = 2**53


class Explanation:
    """The values asked about (``targets``), every value they were computed from, the
    sentences (in English, and in parts: :attr:`phrases`), and the inputs that were missing.
    The per-value details (conditions, computation, parameters) are rendered when first read."""

    def __init__(
        self,
        explainer: Explainer,
        targets: list[Instance],
        graph: dict[Instance, list[Instance]],
        phrases: list[Phrase],
        missing: list[dict[str, Any]],
    ) -> None:
        self.ruleset = explainer.ruleset.name
        self._explainer = explainer
        self._targets = targets
        self.graph = graph
        #: the sentences in parts; :attr:`sentences` in English
        self.phrases = phrases
        self.sentences = [p.text() for p in phrases]
        self.missing = missing

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def targets(self) -> list[str]:
        return [self._explainer.key(inst) for inst in self._targets]

    def verdict(self, index: int = 0) -> Verdict | None:
        """The verdict of the ``index``-th value asked about (None: it has none, e.g. an
        input or a formula without conditions)."""
        return self._explainer.verdict_of(self._targets[index])

    def value(self, inst: Instance) -> Explained:
        return self._explainer.details(inst, self.graph.get(inst, []))

    @property
    def values(self) -> dict[str, Explained]:
        return {self._explainer.key(inst): self.value(inst) for inst in self.graph}

    def tree(self, inst: Instance, seen: set[Instance] | None = None) -> dict[str, Any]:
        """``inst`` with its inputs nested; a value already shown is referred to by key."""
        seen = set() if seen is None else seen
        explainer, graph = self._explainer, self.graph
        key, document = explainer.key, explainer.document

        def nested(inst: Instance) -> dict[str, Any]:
            node = document(inst)
            seen.add(inst)
            deps = graph.get(inst)
            if deps:
                node["inputs"] = [{"see": key(d)} if d in seen else nested(d) for d in deps]
            return node

        return nested(inst)

    def as_dict(self) -> dict[str, Any]:
        """Every target in full; inside, each value in full once, then by key. A target
        met inside another is referred to by key, as it is shown in full on its own."""
        seen: set[Instance] = set(self._targets)
        results = []
        for inst in self._targets:
            seen.discard(inst)
            results.append(self.tree(inst, seen))
        return {
            "ruleset": self.ruleset,
            "complete": self.complete,
            "sentences": self.sentences,
            "sentence_parts": [p.as_dict() for p in self.phrases],
            "missing": self.missing,
            "results": results,
        }


def json_value(variable: Variable, value: Any) -> Any:
    kind = variable.value_type
    if kind is _MONEY:
        if type(value) is int and -_EXACT_CENTS < value < _EXACT_CENTS:
            return value / 100  # the same float as the exact decimal's, without Decimal
        return float(to_decimal(value))
    if kind is _DATE and isinstance(value, date):
        return value.isoformat()
    if kind is _ENUM and variable.enum is not None:
        return variable.enum.keys[value]
    return value


_MONEY, _DATE, _ENUM = ValueType.MONEY, ValueType.DATE, ValueType.ENUM


def missing_item(situation: Situation, missing: Instance) -> dict[str, Any]:
    """An input that was needed and not given, with the default assumed."""
    variable = missing.variable
    return {
        "variable": variable.name,
        "entity": variable.entity,
        "id": situation.ids(variable.entity)[missing.entity_index],
        "period": str(missing.period),
        "assumed": json_value(variable, missing.value),
    }


class Explainer:
    """Reads an evaluation into an :class:`Explanation`."""

    def __init__(self, evaluation: Evaluation) -> None:
        self.ev = evaluation
        self.situation = evaluation.situation
        self.ruleset = evaluation.ruleset
        self.render: Renderer = KeptRenderer(evaluation)
        self.values: dict[Instance, Explained] = {}
        self._keys: dict[Instance, str] = {}
        self._ids: dict[str, list[str]] = {}
        # a value asked about is read twice (its sentences, its details): rendered once
        self._conditions_found: dict[Instance, list[ConditionResult]] = {}
        self._computations: dict[Instance, Part] = {}
        self._verdicts: dict[Instance, Verdict | None] = {}

    def key(self, inst: Instance) -> str:
        found = self._keys.get(inst)
        if found is None:
            entity = inst.variable.entity
            found = f"{inst.variable.name}/{inst.period}/{entity}/{self.entity_id(inst)}"
            self._keys[inst] = found
        return found

    def entity_id(self, inst: Instance) -> str:
        entity = inst.variable.entity
        ids = self._ids.get(entity)
        if ids is None:
            ids = self._ids[entity] = self.situation.ids(entity)
        return ids[inst.entity_index]

    def explain(self, roots: list[Instance]) -> Explanation:
        graph: dict[Instance, list[Instance]] = {}
        stack = list(roots)
        while stack:
            inst = stack.pop()
            if inst in graph:
                continue
            bound = inst.bound
            deps = (
                self.dependencies(inst, bound)
                if bound is not None and bound.root is not None and inst.source == "formula"
                else []
            )
            graph[inst] = deps
            stack.extend(deps)
        phrases: list[Phrase] = []
        for inst in roots:
            phrases.extend(self.phrases(inst))
        missing = [missing_item(self.situation, m) for m in self.ev.missing]
        if missing:
            assumed = tuple(
                Phrase(
                    N_("%(noun)s (%(value)s)"),
                    {
                        "noun": self.render.label_of(m),
                        "value": value_part(m.variable.value_type, m.value, m.variable.enum),
                    },
                )
                for m in self.ev.missing
            )
            phrases.append(
                Phrase(
                    N_("Not given, so the defaults were assumed: %(values)s."),
                    {"values": Joined(assumed, "; ")},
                )
            )
        return Explanation(self, list(roots), graph, phrases, missing)

    def details(self, inst: Instance, deps: list[Instance]) -> Explained:
        found = self.values.get(inst)
        if found is not None:
            return found
        variable = inst.variable
        conditions, computation, parameters = self._worked(inst)
        explained = Explained(
            key=self.key(inst),
            instance=inst,
            entity_id=self.entity_id(inst),
            value=json_value(variable, inst.value),
            text=format_value(variable.value_type, inst.value, variable.enum),
            conditions=conditions,
            computation=computation,
            parameters=parameters,
            inputs=[self.key(dep) for dep in deps],
        )
        self.values[inst] = explained
        return explained

    def document(self, inst: Instance) -> dict[str, Any]:
        """:meth:`details` of ``inst`` as JSON, its inputs left to the caller (``[]``); the
        same as ``details(…).as_dict()``, without the :class:`Explained` between (an
        explanation document is written for every decision)."""
        variable, bound = inst.variable, inst.bound
        entity = variable.entity  # as key() and entity_id(), in one go
        ids = self._ids.get(entity)
        if ids is None:
            ids = self._ids[entity] = self.situation.ids(entity)
        entity_id = ids[inst.entity_index]
        key = self._keys.get(inst)
        if key is None:
            key = self._keys[inst] = f"{variable.name}/{inst.period}/{entity}/{entity_id}"
        root = bound.root if bound is not None and inst.source == "formula" else None
        if root is None:
            conditions: list[dict[str, Any]] = []
            computation, parameters = None, []
        else:
            frame = inst.frame or {}
            branch = plan_of(root).branch(frame)
            conditions = [c.as_dict() for c in self._conditions_of(inst, root, frame, branch)]
            computation = english(self._computation_of(inst, root, frame))
            parameters = self._parameters(branch, frame) if branch.parameters else []
        return value_document(
            inst,
            key,
            entity_id,
            json_value(variable, inst.value),
            format_value(variable.value_type, inst.value, variable.enum),
            computation,
            conditions,
            parameters,
            [],
        )

    def _worked(
        self, inst: Instance
    ) -> tuple[list[ConditionResult], str | None, list[dict[str, Any]]]:
        """How a formula's value was worked out: its conditions, its computation in words and
        the parameters used (none for an input or a default)."""
        bound = inst.bound
        root = bound.root if bound is not None and inst.source == "formula" else None
        if root is None:
            return [], None, []
        frame = inst.frame or {}
        branch = plan_of(root).branch(frame)
        return (
            self._conditions_of(inst, root, frame, branch),
            english(self._computation_of(inst, root, frame)),
            self._parameters(branch, frame),
        )

    def _conditions_of(
        self, inst: Instance, root: Node, frame: dict[int, Any], branch: Branch | None = None
    ) -> list[ConditionResult]:
        found = self._conditions_found.get(inst)
        if found is None:
            found = self._conditions_found[inst] = self._conditions(
                branch or plan_of(root).branch(frame), frame
            )
        return list(found)

    def _computation_of(self, inst: Instance, root: Node, frame: dict[int, Any]) -> Part:
        found = self._computations.get(inst)
        if found is None:
            found = self._computations[inst] = self.render.computation(root, frame, inst.period)
        return found

    # what a value was computed from -------------------------------------------------------

    def dependencies(self, inst: Instance, bound: BoundVariable) -> list[Instance]:
        if bound.links is None:
            found: list[tuple[KVar, tuple[tuple[str, str, int | None], ...]]] = []
            variable_links(bound.root, (), found)
            bound.links = found
        memo, groups = self.ev.memo, self.situation.groups
        out: list[Instance] = []
        for node, path in bound.links:
            name, period = node.variable.name, node.period
            if not path:  # the entity's own value
                dep = memo.get((name, period, inst.entity_index))
                if dep is not None and dep not in out:
                    out.append(dep)
                continue
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
                dep = memo.get((name, period, index))
                if dep is not None and dep not in out:
                    out.append(dep)
        return out

    def parameters(self, root: Node, frame: dict[int, Any]) -> list[dict[str, Any]]:
        """The parameters and scales the formula used as evaluated (the branch of each choice
        taken), each once."""
        return self._parameters(plan_of(root).branch(frame), frame)

    def _parameters(self, branch: Branch, frame: dict[int, Any]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for item in branch.parameters:
            if isinstance(item, KScale):
                entry = self._scale_entry(item, frame)
                if entry not in found:
                    found.append(entry)
            else:  # a parameter's entry, each once already: copied, the caller's to keep
                found.append({**item, "reference": item["reference"] and dict(item["reference"])})
        return found

    def _scale_entry(self, node: KScale, frame: dict[int, Any]) -> dict[str, Any]:
        scale = node.use
        return {
            "parameter": scale.path,
            "label": scale.label,
            "scale": scale.kind,
            "brackets": [
                {"threshold": b.threshold_text, "value": b.value_text} for b in scale.brackets
            ],
            "since": scale.since.isoformat() if scale.since else None,
            "reference": scale.reference.as_dict() if scale.reference else None,
            "applied": self.render.scale_steps(node, frame),
        }

    # conditions ------------------------------------------------------------------------------

    def conditions(self, root: Node, frame: dict[int, Any]) -> list[ConditionResult]:
        """The conditions of a formula as evaluated: the outermost yes/no parts."""
        return self._conditions(plan_of(root).branch(frame), frame)

    def _conditions(self, branch: Branch, frame: dict[int, Any]) -> list[ConditionResult]:
        out: list[ConditionResult] = []
        for node in branch.conditions:
            result = self.condition(node, frame)
            if result is not None:
                out.append(result)
        return out

    def condition(self, node: Node, frame: dict[int, Any]) -> ConditionResult | None:
        value = frame.get(node.nid, _ABSENT)
        if value is _ABSENT:
            return None
        met = bool(value if not isinstance(value, tuple) else value[0])
        if isinstance(node, KCondition):
            reference, inner = node.reference, node.operand
            words = worded(self.render, node, frame, met)
            if words is None:
                phrase = self.render.describe(node, frame, met)
                text = english(phrase)
            else:
                phrase, text = words
        else:
            reference, inner = None, node.operand if isinstance(node, KNot) else node
            phrase = self.render.describe(node, frame, met)
            text = english(phrase)
        sub: list[ConditionResult] = []
        if isinstance(inner, KLogic):
            for item in inner.items:
                found = self.condition(item, frame)
                if found is not None:
                    sub.append(found)
        return ConditionResult(text, met, reference, sub, phrase)

    # sentences -------------------------------------------------------------------------------

    def sentences(self, inst: Instance) -> list[str]:
        return [p.text() for p in self.phrases(inst)]

    def phrases(self, inst: Instance) -> list[Phrase]:
        """What is said about ``inst``, sentence by sentence, in parts."""
        variable, bound = inst.variable, inst.bound
        lines = [
            Phrase(
                N_("%(name)s: %(value)s."),
                {
                    "name": self.render.label_of(inst, capital=True),
                    "value": value_part(variable.value_type, inst.value, variable.enum),
                },
            )
        ]
        if inst.source == "input":
            lines.append(Phrase(N_("Given as an input.")))
            return lines
        if inst.source == "default":
            lines.append(Phrase(N_("Not given; the default value was assumed.")))
            return lines
        if inst.source == "not_yet":
            first = variable.formulas[0].start
            lines.append(
                Phrase(N_("Not in force yet: the rules start on %(day)s."), {"day": _day(first)})
            )
            return lines
        if inst.source == "ended":
            lines.append(
                Phrase(
                    N_("No longer in force: the rules ended on %(day)s."),
                    {"day": _day(variable.end)},
                )
            )
            return lines
        assert bound is not None
        assert bound.root is not None
        frame = inst.frame or {}
        verdict = self.verdict_of(inst)
        if verdict:
            lines.append(verdict.phrase())
        if variable.value_type is not ValueType.BOOL and not (verdict and _is_zero(inst)):
            lines.append(
                Phrase(
                    N_("Computed as %(computation)s."),
                    {"computation": self._computation_of(inst, bound.root, frame)},
                )
            )
        rule = _rule_in_force(bound.since, bound.until, bound.reference)
        if rule is not None:
            lines.append(rule)
        return lines

    def verdict(self, inst: Instance, found: list[ConditionResult]) -> str | None:
        parts = self.verdict_parts(inst, found)
        return parts.sentence() if parts is not None else None

    def verdict_of(self, inst: Instance) -> Verdict | None:
        """``inst``'s verdict in parts (None for an input, a default or no conditions)."""
        bound = inst.bound
        if inst.source != "formula" or bound is None or bound.root is None:
            return None
        found = self._verdicts.get(inst, _ABSENT)
        if found is _ABSENT:
            conditions = self._conditions_of(inst, bound.root, inst.frame or {})
            found = self._verdicts[inst] = self.verdict_parts(inst, conditions)
        return found  # type: ignore[no-any-return]

    def verdict_parts(self, inst: Instance, found: list[ConditionResult]) -> Verdict | None:
        variable = inst.variable
        root = unwrap(inst.bound.root) if inst.bound and inst.bound.root else None
        if not found or not (isinstance(root, KWhere) or variable.value_type is ValueType.BOOL):
            return None
        yes, no = variable.verdicts
        if variable.value_type is ValueType.BOOL:
            met = bool(inst.value)
        else:
            assert isinstance(root, KWhere)
            met = bool((inst.frame or {}).get(root.condition.nid, False))
        conditions = _flatten(found)
        chosen = [c for c in conditions if c.met == met] or conditions
        return Verdict(met, yes if met else no, tuple(chosen))


#: "Rule in force since … until … (citation).", by which of the three are known
_RULE_IN_FORCE = {
    (True, False, True): N_("Rule in force since %(since)s (%(citation)s)."),
    (True, False, False): N_("Rule in force since %(since)s."),
    (False, True, True): N_("Rule in force until %(until)s (%(citation)s)."),
    (False, True, False): N_("Rule in force until %(until)s."),
    (True, True, True): N_("Rule in force since %(since)s until %(until)s (%(citation)s)."),
    (True, True, False): N_("Rule in force since %(since)s until %(until)s."),
    (False, False, True): N_("Rule: %(citation)s."),
}


@functools.lru_cache(maxsize=4096)
def _rule_in_force(
    since: date | None, until: date | None, reference: Reference | None
) -> Phrase | None:
    """Which version of the rule was applied: its dates and the law it comes from (the same
    for every value of a formula version: made once, shared; a phrase is immutable)."""
    message = _RULE_IN_FORCE.get((since is not None, until is not None, reference is not None))
    if message is None:
        return None
    args: dict[str, Part] = {}
    if since is not None:
        args["since"] = _day(since)
    if until is not None:
        args["until"] = _day(until)
    if reference is not None:
        args["citation"] = reference.citation
    return Phrase(message, args)


def _day(day: date | None) -> Part:
    return Value("date", day.isoformat()) if day is not None else "?"


def _flatten(conditions: list[ConditionResult]) -> list[ConditionResult]:
    """Top-level 'all of' groups read best as their parts."""
    out: list[ConditionResult] = []
    for c in conditions:
        if c.children and c.reference is None and c.text.startswith(("all of", "not all of")):
            out.extend(c.children)
        else:
            out.append(c)
    return out


def _is_zero(inst: Instance) -> bool:
    return inst.value in (0, False)
