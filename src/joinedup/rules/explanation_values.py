"""Each value an explanation involves, worked out from an explained evaluation: its key, the
values it was computed from, the formula's conditions with their values, its computation in
words and the parameters used (bracket scales included), as an
:class:`~joinedup.rules.verdicts.Explained` or straight as its JSON (:class:`ValueExplainer`),
and a value as JSON (:func:`json_value`).

The explanation as a whole, and what it says about the values asked about, are
:mod:`joinedup.rules.explanation`'s.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from joinedup.rules.explain import Evaluation, Instance
from joinedup.rules.explanation_plans import Branch, KeptRenderer, plan_of, worded
from joinedup.rules.formula_walk import variable_links
from joinedup.rules.ir import (
    BoundVariable,
    KAggregate,
    KCondition,
    KLogic,
    KNot,
    KScale,
    KVar,
    Node,
    children,
)
from joinedup.rules.model import ValueType, Variable
from joinedup.rules.money import to_decimal
from joinedup.rules.render import Renderer
from joinedup.rules.verdicts import ConditionResult, Explained, value_document, value_summary
from joinedup.rules.vocabulary import format_value
from joinedup.rules.wording import Part, english

_ABSENT: Any = object()
#: Amounts of cents below this are exact in a float: divided by 100, they round as the exact
#: decimal amount does.
_EXACT_CENTS = 2**53


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


#: What a formula's value showed (its conditions, computation and parameters, as JSON).
Worked = tuple[list[dict[str, Any]], str | None, list[dict[str, Any]]]


class WorkedValues:
    """How formula values were worked out, shared by the explanations one caller writes
    together (the decisions of a batch of life events): a value of the same formula version
    and period, with the same value and the same values inside its formula, reads the same
    in every explanation, so its conditions, computation and parameters are rendered once.

    Only formulas without an aggregate over a group's members are kept: an aggregate's
    condition names the members and their values (``members_text``), the one place a value's
    details name persons. So nothing kept identifies anyone. It holds values of persons
    (amounts, dates) all the same: a caller keeps it for one unit of work only, and at most
    ``limit`` values (the oldest go first). Explanations share the JSON kept here: treat an
    explanation document as read-only."""

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._kept: dict[tuple[Any, ...], Worked] = {}
        self._plain: dict[BoundVariable, bool] = {}

    def key(self, bound: BoundVariable, root: Node, value: Any, frame: dict[int, Any]) -> Any:
        """The key of a value of ``bound`` (None: not kept — an aggregate, or a value that
        cannot be a key)."""
        plain = self._plain.get(bound)
        if plain is None:
            plain = self._plain[bound] = not over_members(root)
        if not plain:
            return None
        key = (bound, value, *frame.items())
        try:
            hash(key)
        except TypeError:
            return None
        return key

    def get(self, key: Any) -> Worked | None:
        return self._kept.get(key)

    def shown(self) -> list[Worked]:
        """What the values kept showed."""
        return list(self._kept.values())

    def formulas(self) -> set[BoundVariable]:
        """The formula versions some of whose values are kept."""
        return {key[0] for key in self._kept}

    def __len__(self) -> int:
        return len(self._kept)

    def keep(self, key: Any, worked: Worked) -> None:
        kept = self._kept
        if len(kept) >= self.limit:
            if self.limit < 1:
                return
            kept.pop(next(iter(kept)))
        kept[key] = worked


def over_members(root: Node) -> bool:
    """Whether a formula aggregates over a group's members (its explanation names them)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, KAggregate):
            return True
        stack.extend(children(node))
    return False


class ValueExplainer:
    """Works out each value of an evaluation: its key, its inputs, its conditions, computation
    and parameters, each rendered once (the :class:`~joinedup.rules.explanation.Explainer`
    adds what is said about them). ``worked``: what other explanations written with it
    worked out already (see :class:`WorkedValues`)."""

    def __init__(self, evaluation: Evaluation, worked: WorkedValues | None = None) -> None:
        self.worked = worked
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

    def summary(self, inst: Instance) -> dict[str, Any]:
        """What :meth:`document` says of ``inst`` but how it was worked out (its formula,
        conditions, computation, parameters and inputs): a value named by its worth."""
        variable = inst.variable
        return value_summary(
            inst,
            self.key(inst),
            self.entity_id(inst),
            json_value(variable, inst.value),
            format_value(variable.value_type, inst.value, variable.enum),
        )

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
        shown: Worked = ([], None, [])
        if root is not None:
            assert bound is not None  # (a root is a bound formula's)
            shown = self._shown(inst, bound, root)
        conditions, computation, parameters = shown
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

    def _shown(self, inst: Instance, bound: BoundVariable, root: Node) -> Worked:
        """What a formula's value shows (conditions, computation, parameters, as JSON):
        rendered, or as another explanation sharing :attr:`worked` rendered it."""
        frame = inst.frame or {}
        worked = self.worked
        known = None if worked is None else worked.key(bound, root, inst.value, frame)
        if known is not None and worked is not None:
            found = worked.get(known)
            if found is not None:
                return found
        conditions, computation, parameters = self._worked(inst)
        shown = ([c.as_dict() for c in conditions], computation, parameters)
        if known is not None and worked is not None:
            worked.keep(known, shown)
        return shown

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
