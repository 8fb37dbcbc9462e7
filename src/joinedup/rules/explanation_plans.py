"""What explaining a bound formula needs that is the same for every value it computes, made
once and kept: which conditions an explanation states and which parameters it lists, for each
way the formula's choices went (:func:`plan_of`), and the ruleset's own words for its nodes —
a node's name, a member-level condition, a constant, a condition the rules word themselves
(:class:`KeptRenderer`, :func:`worded`).

Everything here is keyed by the nodes of a ruleset's bound formulas, which are immutable (a
ruleset binds its own; a reform is another ruleset), and holds no value of any person: a
plan names nodes, the words are the ruleset's. What is kept is shared by every explanation
and thread: parts are immutable, and threads racing to make one make the same. Each kind is
bounded (:data:`KEPT`): one that reaches it is dropped and made again.
"""

from __future__ import annotations

from typing import Any, TypeVar

from joinedup.rules.formula_walk import evaluated_nodes
from joinedup.rules.ir import (
    KAggregate,
    KCondition,
    KConst,
    KLogic,
    KParam,
    KScale,
    KWhere,
    Node,
    children,
)
from joinedup.rules.model import ValueType
from joinedup.rules.render import Renderer
from joinedup.rules.wording import Part, english

_T = TypeVar("_T")
_ABSENT: Any = object()

#: How many of each kind are kept: far more than any real use needs (as many as a ruleset
#: keeps bound formulas).
KEPT = 20_000
#: Ways a formula's choices went kept per formula (past them, the formula is walked again).
BRANCHES_KEPT = 64


class Branch:
    """One way a formula's choices went: the nodes whose conditions an explanation states
    (the outermost yes/no parts, in order) and the parameters it lists (each parameter's
    entry once, and each scale, whose steps depend on the values), in order."""

    __slots__ = ("conditions", "parameters")

    def __init__(self, root: Node, frame: dict[int, Any]) -> None:
        conditions: list[Node] = []
        _condition_nodes(root, frame, conditions, top=True)
        self.conditions = tuple(conditions)
        parameters: list[dict[str, Any] | KScale] = []
        for node in evaluated_nodes(root, frame):
            if isinstance(node, KParam):
                entry = parameter_entry(node)
                if entry not in parameters:
                    parameters.append(entry)
            elif isinstance(node, KScale):
                parameters.append(node)
        self.parameters = tuple(parameters)


class FormulaPlan:
    """A bound formula's choices, and for each way they went, its :class:`Branch`: which
    nodes an explanation reads depends on nothing else, so every value shares them."""

    __slots__ = ("branches", "choices", "root")

    def __init__(self, root: Node) -> None:
        self.root = root
        self.choices = _choices(root)
        self.branches: dict[tuple[int, ...], Branch] = {}

    def branch(self, frame: dict[int, Any]) -> Branch:
        """The branch of a value whose formula's steps are ``frame``."""
        # how each choice went: not evaluated (0), otherwise (1) or then (2)
        way = tuple(
            0 if where.nid not in frame else 2 if frame.get(where.condition.nid) else 1
            for where in self.choices
        )
        found = self.branches.get(way)
        if found is None:
            found = Branch(self.root, frame)
            if len(self.branches) < BRANCHES_KEPT:
                self.branches[way] = found
        return found


def plan_of(root: Node) -> FormulaPlan:
    """The plan of the bound formula ``root``."""
    found = _PLANS.get(root)
    if found is None:
        found = _keep(_PLANS, root, FormulaPlan(root))
    return found


def parameter_entry(node: KParam) -> dict[str, Any]:
    """What an explanation says about a parameter: the same for every value using it, so
    written once per bound formula (explanations copy it)."""
    if node.entry is None:
        use = node.use
        node.entry = {
            "parameter": use.path,
            "label": use.label,
            "value": use.text,
            "since": use.since.isoformat() if use.since else None,
            "reference": use.reference.as_dict() if use.reference else None,
        }
    return node.entry


class KeptRenderer(Renderer):
    """The renderer, keeping what it says of a formula node without its values: how the node
    is named (:meth:`noun`), a member-level condition (:meth:`phrase`), a constant or a
    parameter with its value. Those are the ruleset's words and values, the same in every
    explanation: made once per node, and shared."""

    def noun(self, node: Node) -> Part | None:
        found = _NOUNS.get(node, _ABSENT)
        if found is _ABSENT:
            found = _keep(_NOUNS, node, _noun(self, node))
        return found  # type: ignore[no-any-return]

    def phrase(self, node: Node) -> Part:
        found = _PHRASES.get(node)
        if found is None:
            found = _keep(_PHRASES, node, _phrase(self, node))
        return found

    def term(self, node: Node, value: Any, *, right: bool) -> Part:
        if isinstance(node, KConst | KParam) and value is node.value:  # its own value
            key = (node, right)
            found = _CONSTANT_TERMS.get(key)
            if found is None:
                found = _keep(_CONSTANT_TERMS, key, _term(self, node, value, right=right))
            return found
        return _term(self, node, value, right=right)

    def text(self, node: Node, frame: dict[int, Any], *, top: bool = False) -> Part:
        if isinstance(node, KConst | KParam):  # its own value, whatever the frame holds
            found = _CONSTANTS.get(node)
            if found is None:
                found = _keep(_CONSTANTS, node, _text(self, node, frame, top=top))
            return found
        return _text(self, node, frame, top=top)


_noun, _phrase, _term, _text = Renderer.noun, Renderer.phrase, Renderer.term, Renderer.text


def worded(
    render: Renderer, node: KCondition, frame: dict[int, Any], met: bool
) -> tuple[Part, str] | None:
    """The words of a condition the rules word themselves (its ``met`` or ``not_met``), in
    parts and in English; None when the rules left them to the renderer."""
    if not (node.met if met else node.not_met):
        return None
    key = (node, met)
    found = _WORDED.get(key)
    if found is None:
        phrase = render.describe(node, frame, met)  # no values: the rules' own sentence
        found = _keep(_WORDED, key, (phrase, english(phrase)))
    return found


#: What is kept, by kind.
_PLANS: dict[Node, FormulaPlan] = {}
_WORDED: dict[tuple[Node, bool], tuple[Part, str]] = {}
_NOUNS: dict[Node, Part | None] = {}
_PHRASES: dict[Node, Part] = {}
_CONSTANT_TERMS: dict[tuple[Node, bool], Part] = {}
_CONSTANTS: dict[Node, Part] = {}


def _keep(kept: dict[Any, Any], key: Any, value: _T) -> _T:
    """``value`` kept under ``key`` (all of its kind dropped first when there are many)."""
    if len(kept) >= KEPT:
        kept.clear()
    kept[key] = value
    return value


def _choices(root: Node) -> tuple[KWhere, ...]:
    """Every choice (where … else …) in a formula, each once, in a fixed order."""
    found: dict[int, KWhere] = {}
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if node.nid in seen:
            continue
        seen.add(node.nid)
        if isinstance(node, KWhere):
            found[node.nid] = node
        stack.extend(children(node))
    return tuple(found.values())


def _condition_nodes(node: Node, frame: dict[int, Any], out: list[Node], *, top: bool) -> None:
    """The nodes whose conditions an explanation states, as the formula was evaluated (the
    branch of each choice taken; nothing inside an aggregation)."""
    if (node.kind is ValueType.BOOL and not top) or isinstance(node, KCondition):
        out.append(node)
        return
    if isinstance(node, KAggregate):
        return
    if isinstance(node, KWhere) and node.nid in frame:
        _condition_nodes(node.condition, frame, out, top=False)
        taken = node.then if frame.get(node.condition.nid) else node.otherwise
        _condition_nodes(taken, frame, out, top=False)
        return
    if node.kind is ValueType.BOOL and top and isinstance(node, KLogic):
        for item in node.items:
            _condition_nodes(item, frame, out, top=False)
        return
    for child in children(node):
        _condition_nodes(child, frame, out, top=False)


__all__ = ["BRANCHES_KEPT", "KEPT", "Branch", "FormulaPlan", "KeptRenderer", "plan_of", "worded"]
