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

Each value's details are worked out in :mod:`joinedup.rules.explanation_values`; this module
holds the explanation as a whole and what it says.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from typing import Any

from joinedup.rules.explain import Evaluation, Instance
from joinedup.rules.explanation_values import ValueExplainer, WorkedValues, json_value
from joinedup.rules.formula_walk import unwrap
from joinedup.rules.ir import KWhere
from joinedup.rules.model import N_, Reference, ValueType
from joinedup.rules.ruleset import Ruleset
from joinedup.rules.situation import Situation
from joinedup.rules.verdicts import ConditionResult, Explained, Verdict
from joinedup.rules.vocabulary import value_part
from joinedup.rules.wording import Joined, Part, Phrase, Value

_ABSENT: Any = object()


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

    def tree(
        self, inst: Instance, seen: set[Instance] | None = None, depth: int | None = None
    ) -> dict[str, Any]:
        """``inst`` with its inputs nested; a value already shown is referred to by key.
        ``depth``: the values this many steps below ``inst`` are summed up (:meth:`summary`:
        what they are and their value, not how they were worked out), and nothing below them
        is shown; None: every value down to the inputs given."""
        seen = set() if seen is None else seen
        explainer, graph = self._explainer, self.graph
        key, document, summary = explainer.key, explainer.document, explainer.summary

        def nested(inst: Instance, level: int) -> dict[str, Any]:
            seen.add(inst)
            if depth is not None and level >= depth:
                return summary(inst)
            node = document(inst)
            deps = graph.get(inst)
            if deps:
                node["inputs"] = [
                    {"see": key(d)} if d in seen else nested(d, level + 1) for d in deps
                ]
            return node

        return nested(inst, 0)

    def as_dict(self, depth: int | None = None) -> dict[str, Any]:
        """Every target in full; inside, each value in full once, then by key. A target
        met inside another is referred to by key, as it is shown in full on its own.
        ``depth``: as in :meth:`tree`, every value given that the targets rest on
        (``given``: its value by key) and the situation's groups (``groups``). A decision's
        record keeps the value decided in full, what it was computed from and the facts it
        rests on, not each step between (``depth=1``)."""
        seen: set[Instance] = set(self._targets)
        results = []
        for inst in self._targets:
            seen.discard(inst)
            results.append(self.tree(inst, seen, depth))
        document: dict[str, Any] = {
            "ruleset": self.ruleset,
            "complete": self.complete,
            "sentences": self.sentences,
            "sentence_parts": [p.as_dict() for p in self.phrases],
            "missing": self.missing,
            "results": results,
        }
        if depth is not None:
            # every value given (read or declared) that the values asked about rest on, by
            # key (variable/period/entity/id): with the ruleset's version, the whole
            # derivation again (a default assumed is assumed again, and named in "missing")
            key = self._explainer.key
            document["depth"] = depth
            document["given"] = dict(
                sorted(
                    (key(inst), json_value(inst.variable, inst.value))
                    for inst in self.graph
                    if inst.source == "input"
                )
            )
            document["groups"] = _groups(self._explainer.situation)
        return document


def _groups(situation: Situation) -> dict[str, dict[str, dict[str, list[str]]]]:
    """The situation's groups as a situation gives them (``{"households": {"h": {"adults":
    [...], "children": [...]}}}``); a group entity none was given of (each person alone in
    one of their own) is left out, as the situation left it out."""
    persons = situation.person_ids
    found: dict[str, dict[str, dict[str, list[str]]]] = {}
    for group in situation.groups.values():
        if group.ids == [f"_{pid}" for pid in persons]:
            continue
        roles = group.entity.roles
        found[group.entity.plural] = {
            gid: {
                role.plural: [persons[i] for i in members if group.person_role[i] == r]
                for r, role in enumerate(roles)
            }
            for gid, members in zip(group.ids, group.members, strict=True)
        }
    return found


def situation_given(ruleset: Ruleset, document: Mapping[str, Any]) -> dict[str, Any]:
    """The situation an explanation to a depth rests on (:meth:`Explanation.as_dict` with a
    depth): its groups, and each value given as an input. Explained again under the same
    ruleset version, it gives every step the document leaves out."""
    plural = {ruleset.person.key: ruleset.person.plural}
    plural.update({key: entity.plural for key, entity in ruleset.groups.items()})
    data: dict[str, Any] = {name: {} for name in plural.values()}
    persons = data[ruleset.person.plural]
    for name, members in document.get("groups", {}).items():
        data[name] = {gid: dict(roles) for gid, roles in members.items()}
        for roles in members.values():
            for pid in (pid for ids in roles.values() for pid in ids):
                persons.setdefault(pid, {})
    for key, value in document["given"].items():
        variable, period, entity, entity_id = key.split("/", 3)
        values = data[plural[entity]].setdefault(entity_id, {})
        values.setdefault(variable, {})[period] = value
    return {name: entities for name, entities in data.items() if entities}


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


class Explainer(ValueExplainer):
    """Reads an evaluation into an :class:`Explanation`."""

    def __init__(self, evaluation: Evaluation, worked: WorkedValues | None = None) -> None:
        super().__init__(evaluation, worked)
        self._verdicts: dict[Instance, Verdict | None] = {}

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
