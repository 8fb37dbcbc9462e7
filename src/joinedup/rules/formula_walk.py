"""Walking a bound formula's tree for an explanation: the nodes that were evaluated (the
branch of each choice taken), the variables it reads and through which group or members,
and a node without its names."""

from __future__ import annotations

from typing import Any

from joinedup.rules.ir import KAggregate, KNamed, KProject, KVar, KWhere, Node, children


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


__all__ = ["evaluated_nodes", "unwrap", "variable_links"]
