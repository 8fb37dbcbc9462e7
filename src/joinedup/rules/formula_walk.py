"""Walking a bound formula's tree for an explanation: the nodes that were evaluated (the
branch of each choice taken), the variables it reads and through which group or members,
and a node without its names."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import TYPE_CHECKING, Any

from joinedup.rules.ir import (
    KAggregate,
    KNamed,
    KParam,
    KProject,
    KRate,
    KScale,
    KVar,
    KWhere,
    Node,
    children,
)
from joinedup.rules.parameters import Scale
from joinedup.rules.periods import Period

if TYPE_CHECKING:
    from joinedup.rules.ruleset import Ruleset


def unwrap(node: Node) -> Node:
    """``node`` without the names wrapped around it."""
    while isinstance(node, KNamed):
        node = node.operand
    return node


def evaluated_nodes(root: Node, frame: dict[int, Any]) -> list[Node]:
    """The nodes of a formula that were evaluated (the branch of each choice that was taken)."""
    out: list[Node] = []
    stack = [root]
    while stack:
        node = stack.pop()
        out.append(node)
        if isinstance(node, KWhere):
            if node.nid not in frame:
                continue
            taken = node.then if frame.get(node.condition.nid) else node.otherwise
            stack.extend((taken, node.condition))
        else:
            stack.extend(reversed(children(node)))
    return out


def variable_links(
    node: Node | None,
    path: tuple[tuple[str, str, int | None], ...],
    out: list[tuple[KVar, tuple[tuple[str, str, int | None], ...]]],
) -> None:
    """Append to ``out`` each variable ``node`` reads, with the path to it (through a
    group's members or a member's group)."""
    if node is None:
        return
    if isinstance(node, KVar):
        out.append((node, path))
        return
    if isinstance(node, KAggregate):
        variable_links(node.operand, (*path, ("members", node.group, node.role)), out)
        return
    if isinstance(node, KProject):
        variable_links(node.operand, (*path, ("group", node.group, None)), out)
        return
    for child in children(node):
        variable_links(child, path, out)


def parameters_deciding(
    ruleset: Ruleset, variable: str, period: Period, *, through: Collection[str] = ()
) -> set[str]:
    """The paths of the parameters (and scales) that ``variable``'s value for ``period``
    depends on, through the formulas in force then: its own formula's and, transitively,
    those of every variable it reads — except the variables named in ``through``, whose
    parameters are theirs (another service's decision that this one merely reads)."""
    found: set[str] = set()
    seen: set[tuple[str, Period]] = set()
    pending = [(variable, ruleset.period_for(ruleset.variable(variable), period))]
    while pending:
        name, at = pending.pop()
        if (name, at) in seen:
            continue
        seen.add((name, at))
        bound = ruleset.bound(name, at)
        stack: list[Node] = [] if bound.root is None else [bound.root]
        while stack:
            node = stack.pop()
            if isinstance(node, KParam | KScale):
                found.add(node.use.path)
            elif isinstance(node, KVar):
                if node.variable.name not in through:
                    pending.append((node.variable.name, node.period))
                continue
            if isinstance(node, KRate):
                stack.append(node.factor)  # the parameter the rate came from
            stack.extend(children(node))
    return found


def days_the_rules_change(ruleset: Ruleset, *, after: date) -> list[date]:
    """The days after ``after`` on which the rules as written change, in order: a formula
    version or a parameter value (a scale's threshold or rate) taking effect."""
    days: set[date] = set()
    for variable in ruleset.variables.values():
        days.update(f.start for f in variable.formulas if f.start is not None)
    for item in ruleset.parameters:
        if isinstance(item, Scale):
            days.update(d.start for b in item.brackets for d in (*b.threshold, *b.value))
        else:
            days.update(d.start for d in item.values)
    return sorted(day for day in days if day > after)


__all__ = [
    "days_the_rules_change",
    "evaluated_nodes",
    "parameters_deciding",
    "unwrap",
    "variable_links",
]
