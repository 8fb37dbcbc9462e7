"""What the offline verifier found, in words that name the entries concerned.

The walk in :mod:`joinedup.core.translog.verify` records raw observations here while it
streams the log; :meth:`Observations.findings` turns them into one :class:`Finding` per
problem at the end, once reordered entries can be told apart from rewritten ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from joinedup.core.translog.merkle import node_hash

#: Lines of one sort printed before the rest are summarised (a rewritten log could yield
#: millions); the counts stay exact.
MAX_LINES_PER_SORT = 50
#: Subtrees kept for telling reordered entries from rewritten ones.
MAX_SUSPECTS = 2000
#: Missing tree nodes listed one by one (a deleted node table would list every node).
MAX_MISSING_NODES_LISTED = 5


@dataclass(frozen=True)
class Finding:
    """One problem. ``sort`` is stable (for programs); ``message`` is for people."""

    sort: str
    message: str
    entries: tuple[int, ...] = ()


def span(start: int, end: int) -> str:
    """Entries ``[start, end)`` in words."""
    if end - start == 1:
        return f"entry {start}"
    return f"entries {start}–{end - 1}"


@dataclass
class SubtreeMismatch:
    """A stored subtree hash that its children no longer produce (the lowest such node).

    ``authenticated`` is decided at the next signed tree head: true when the stored tree
    still reproduces that head's signed root, so the stored hash is the original one and the
    entries below it are what changed; false when the entries still match the signed root,
    so the stored node itself was altered; ``None`` when neither matches.
    """

    level: int
    index: int
    stored: bytes
    left: bytes
    right: bytes
    authenticated: bool | None = None

    @property
    def start(self) -> int:
        return self.index << self.level

    @property
    def end(self) -> int:
        return (self.index + 1) << self.level


@dataclass
class Observations:
    missing: list[tuple[int, int]] = field(default_factory=list)
    # (index, recomputed leaf hash, stored leaf hash) of entries whose leaf_input changed
    leaf_mismatches: list[tuple[int, bytes, bytes]] = field(default_factory=list)
    leaf_mismatch_count: int = 0
    subtree_mismatches: list[SubtreeMismatch] = field(default_factory=list)
    subtree_mismatch_count: int = 0
    missing_nodes: list[tuple[int, int]] = field(default_factory=list)
    missing_node_count: int = 0
    other: list[Finding] = field(default_factory=list)

    def leaf_mismatch(self, index: int, recomputed: bytes, stored: bytes) -> None:
        self.leaf_mismatch_count += 1
        if len(self.leaf_mismatches) < MAX_SUSPECTS:
            self.leaf_mismatches.append((index, recomputed, stored))

    def subtree_mismatch(self, mismatch: SubtreeMismatch) -> bool:
        """Count it; keep it (and say so) while fewer than ``MAX_SUSPECTS`` are kept."""
        self.subtree_mismatch_count += 1
        if len(self.subtree_mismatches) < MAX_SUSPECTS:
            self.subtree_mismatches.append(mismatch)
            return True
        return False

    def missing_node(self, level: int, index: int) -> None:
        self.missing_node_count += 1
        if len(self.missing_nodes) < MAX_MISSING_NODES_LISTED:
            self.missing_nodes.append((level, index))

    def add(self, sort: str, message: str, *entries: int) -> None:
        self.other.append(Finding(sort, message, tuple(entries)))

    # -- turning observations into findings ----------------------------------------------

    def _moved(self) -> dict[int, int]:
        """``{position now: position it belongs at}`` for content found at the wrong index.

        A leaf whose recomputed hash is another position's stored leaf hash, or a leaf that
        completes another position's original (authenticated) subtree, has moved.
        """
        moved: dict[int, int] = {}
        by_stored = {stored: index for index, _, stored in self.leaf_mismatches}
        for index, recomputed, _ in self.leaf_mismatches:
            origin = by_stored.get(recomputed)
            if origin is not None and origin != index:
                moved[index] = origin
        pairs = [m for m in self.subtree_mismatches if m.level == 1 and m.authenticated]
        candidates: dict[bytes, int] = {}
        for m in pairs:
            candidates.setdefault(m.left, m.start)
            candidates.setdefault(m.right, m.start + 1)
        for m in pairs:
            left_at, right_at = m.start, m.start + 1
            if node_hash(m.right, m.left) == m.stored:
                moved[left_at], moved[right_at] = right_at, left_at
                continue
            for content, position in candidates.items():
                if position not in (left_at, right_at):
                    if node_hash(m.left, content) == m.stored:
                        moved[position] = right_at
                    if node_hash(content, m.right) == m.stored:
                        moved[position] = left_at
        return moved

    def findings(self) -> list[Finding]:
        found: list[Finding] = []
        for start, end in self.missing:
            verb = "is" if end - start == 1 else "are"
            found.append(
                Finding("missing", f"{span(start, end)} {verb} missing", _ends(start, end))
            )
        moved = self._moved()
        explained = set(moved) | set(moved.values())
        found.extend(_reorder_findings(moved))

        rewritten = [i for i, _, _ in self.leaf_mismatches if i not in explained]
        for index in rewritten[:MAX_LINES_PER_SORT]:
            found.append(
                Finding(
                    "rewritten",
                    f"entry {index} was rewritten: its leaf_input no longer matches its leaf hash",
                    (index,),
                )
            )
        unlisted = self.leaf_mismatch_count - len(self.leaf_mismatches)
        _more(found, "rewritten", len(rewritten) + unlisted, "rewritten entries")

        lines = 0
        for m in self.subtree_mismatches:
            if m.level == 1 and m.authenticated and {m.start, m.start + 1} & explained:
                continue
            lines += 1
            if lines > MAX_LINES_PER_SORT:
                continue
            found.append(_subtree_finding(m))
        unlisted = self.subtree_mismatch_count - len(self.subtree_mismatches)
        _more(found, "subtree", lines + unlisted, "altered subtrees")

        for level, index in self.missing_nodes:
            start, end = index << level, (index + 1) << level
            found.append(
                Finding(
                    "node-missing",
                    f"tree node (level {level}, index {index}) over {span(start, end)} is "
                    "missing from the store: proofs through it cannot be served",
                    (start, end - 1),
                )
            )
        if self.missing_node_count > len(self.missing_nodes):
            found.append(
                Finding(
                    "node-missing",
                    f"… {self.missing_node_count - len(self.missing_nodes)} more tree nodes are "
                    f"missing from the store ({self.missing_node_count} in all)",
                )
            )
        found.extend(self.other)
        return found


def _ends(start: int, end: int) -> tuple[int, ...]:
    return (start,) if end - start == 1 else (start, end - 1)


def _more(found: list[Finding], sort: str, total: int, what: str) -> None:
    if total > MAX_LINES_PER_SORT:
        found.append(
            Finding(sort, f"… {total - MAX_LINES_PER_SORT} more {what} not listed ({total} in all)")
        )


def _reorder_findings(moved: dict[int, int]) -> list[Finding]:
    """One finding per cycle of moved content ("entries 5 and 6 are out of order")."""
    found: list[Finding] = []
    seen: set[int] = set()
    for start in sorted(moved):
        if start in seen:
            continue
        group = []
        position: int | None = start
        while position is not None and position not in seen:
            seen.add(position)
            group.append(position)
            position = moved.get(position)
        group.sort()
        if len(group) == 1:
            message = f"entry {group[0]} holds content that belongs elsewhere"
        elif len(group) == 2:
            message = f"entries {group[0]} and {group[1]} are out of order"
        else:
            listed = ", ".join(str(i) for i in group[:-1])
            message = f"entries {listed} and {group[-1]} are out of order"
        found.append(Finding("reordered", message, tuple(group)))
    return found


def _subtree_finding(m: SubtreeMismatch) -> Finding:
    where = span(m.start, m.end)
    entries = (m.start, m.end - 1)
    if m.authenticated is False:
        return Finding(
            "node-altered",
            f"tree node (level {m.level}, index {m.index}) was altered: it no longer matches "
            f"{where} below it, which still match the signed tree heads",
            entries,
        )
    if m.authenticated:
        if m.level == 1:
            message = f"{where}: one of them was rewritten together with its leaf hash"
        else:
            message = (
                f"{where}: at least one was rewritten together with its leaf hash and the "
                f"tree nodes below level {m.level}"
            )
        return Finding(
            "rewritten", message + " (the signed tree head still fixes the original)", entries
        )
    return Finding(
        "subtree",
        f"{where} or the tree node (level {m.level}, index {m.index}) above them were altered",
        entries,
    )
