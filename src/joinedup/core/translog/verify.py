"""The offline verifier behind ``joinedup log verify``.

It trusts nothing in the database but the public key it is given. In one pass over the
entries in index order (streamed, never all in memory) it recomputes every leaf hash from
``leaf_input``, rebuilds the tree, compares each complete subtree with the stored node, and
checks every signed tree head: signature, chain (each head names the one before it), time
order and root. Findings name the entries concerned:

- an entry whose ``leaf_input`` no longer matches its leaf hash is *rewritten*;
- a stored subtree its recomputed children no longer produce is told apart at the next
  signed tree head: if the stored tree still reproduces the signed root, the stored node is
  the original and the entries below it changed (with their leaf hashes); if the entries
  still reproduce it, the node itself was altered;
- content found at another index than the one its original hash fixes is *out of order*;
- a gap in the indices is a *missing* entry; a head named by its successor but absent is a
  *missing tree head*; entries after the last head are *not covered*;
- a root that no longer matches localises the change to the entries between that head and
  the last one that matched.

Once the stored tree is found to reproduce a signed root, verification continues from the
stored (now authenticated) subtree hashes, so each later tree head localises its own batch.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, select

from joinedup.core.db import make_engine
from joinedup.core.keys import VerifyingKey
from joinedup.core.translog.findings import Finding, Observations, SubtreeMismatch, span
from joinedup.core.translog.merkle import fold, node_hash
from joinedup.core.translog.models import LogEntry, LogNode, TreeHead
from joinedup.core.translog.treehead import SignedTreeHead

CHUNK = 20_000
#: Inconsistent stored nodes remembered between two tree heads (bounds memory and time).
MAX_TAINTED = 1000


class _Closable(Protocol):
    def close(self) -> None: ...


@dataclass(frozen=True)
class VerificationReport:
    entries: int
    tree_heads: int
    latest: SignedTreeHead | None
    signatures_checked: bool
    findings: list[Finding]
    seconds: float

    @property
    def intact(self) -> bool:
        return not self.findings

    def summary(self) -> str:
        signatures = "signatures checked" if self.signatures_checked else "signatures NOT checked"
        state = "intact" if self.intact else f"NOT intact: {len(self.findings)} finding(s)"
        root = (
            f"; latest signed tree head: size {self.latest.tree_size}, "
            f"root {self.latest.root_hash.hex()}"
            if self.latest
            else ""
        )
        return (
            f"transparency log {state}: {_count(self.entries, 'entry', 'entries')}, "
            f"{_count(self.tree_heads, 'signed tree head', 'signed tree heads')} "
            f"({signatures}){root}; verified in {self.seconds:.2f} s"
        )


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


class _StoredNodes:
    """The stored ``tlog_node`` hashes, one index-ordered stream per level, read as needed."""

    def __init__(self, conn: Connection, results: list[_Closable]) -> None:
        self._conn = conn
        self._results = results
        self._streams: dict[int, Iterator[Any]] = {}
        self._peeked: dict[int, Any] = {}

    def get(self, level: int, index: int) -> bytes | None:
        stream = self._streams.get(level)
        if stream is None:
            statement = (
                select(LogNode.index, LogNode.hash)
                .where(LogNode.level == level)
                .order_by(LogNode.index)
            )
            result = self._conn.execution_options(yield_per=CHUNK).execute(statement)
            self._results.append(result)
            stream = iter(result)
            self._streams[level] = stream
            self._peeked[level] = next(stream, None)
        row = self._peeked[level]
        while row is not None and row[0] < index:
            row = next(stream, None)
        self._peeked[level] = row
        return row[1] if row is not None and row[0] == index else None


class _Walk:
    def __init__(self, conn: Connection, keys: Sequence[VerifyingKey] | None) -> None:
        self.conn = conn
        self.keys = {key.key_id: key for key in keys} if keys is not None else None
        self.obs = Observations()
        self.results: list[_Closable] = []  # streams to close (server-side cursors)
        self.nodes = _StoredNodes(conn, self.results)
        # the frontier: per perfect subtree, its level, recomputed hash and stored hash
        self.levels: list[int] = []
        self.recomputed: list[bytes | None] = []
        self.stored: list[bytes | None] = []
        self.size = 0
        self.open_mismatches: list[SubtreeMismatch] = []
        # ranges under stored nodes inconsistent with their children, since the last head
        self.tainted: list[tuple[int, int]] = []
        self.tainted_overflow = False
        heads = select(
            TreeHead.tree_size,
            TreeHead.timestamp_ms,
            TreeHead.root_hash,
            TreeHead.previous_tree_size,
            TreeHead.key_id,
            TreeHead.signature,
        ).order_by(TreeHead.tree_size)
        rows = conn.execution_options(yield_per=CHUNK).execute(heads)
        self.results.append(rows)
        self.heads = (SignedTreeHead(*row) for row in rows)
        self.next_head: SignedTreeHead | None = next(self.heads, None)
        self.head_count = 0
        self.chain_size = 0  # size of the last validly signed head
        self.rejected: set[int] = set()  # sizes of heads whose signature failed
        self.chain_timestamp = 0
        self.latest: SignedTreeHead | None = None
        self.last_good = 0  # size of the last head whose root the entries reproduce
        self.run: list[int] | None = None  # [from, first failing head, failing heads]

    # -- the tree ---------------------------------------------------------------------------

    def push(self, recomputed: bytes | None, stored: bytes | None) -> None:
        levels, rec, sto = self.levels, self.recomputed, self.stored
        position = self.size
        level = 0
        while levels and levels[-1] == level:
            levels.pop()
            left_rec, left_sto = rec.pop(), sto.pop()
            level += 1
            index = position >> level
            stored_node = self.nodes.get(level, index)
            if stored_node is None:
                self.obs.missing_node(level, index)
            if left_rec is None or recomputed is None:
                # a missing entry below: carry on with the stored node (checked by the roots)
                recomputed = stored_node
            else:
                parent = node_hash(left_rec, recomputed)
                if stored_node is not None and parent != stored_node:
                    if left_rec == left_sto and recomputed == stored:
                        mismatch = SubtreeMismatch(level, index, stored_node, left_rec, recomputed)
                        if self.obs.subtree_mismatch(mismatch):
                            self.open_mismatches.append(mismatch)
                    elif (
                        left_sto is not None
                        and stored is not None
                        and node_hash(left_sto, stored) != stored_node
                    ):
                        self.taint(index << level, (index + 1) << level)
                recomputed = parent
            stored = stored_node
        levels.append(level)
        rec.append(recomputed)
        sto.append(stored)
        self.size = position + 1
        if self.next_head is not None and self.next_head.tree_size == self.size:
            self.check_heads()

    def taint(self, start: int, end: int) -> None:
        if len(self.tainted) < MAX_TAINTED:
            self.tainted.append((start, end))
        else:  # a stored tree this inconsistent authenticates nothing until the next head
            self.tainted_overflow = True

    # -- tree heads -------------------------------------------------------------------------

    def check_heads(self) -> None:
        """Check the heads of the current size (the walk stops at every head's size)."""
        while self.next_head is not None and self.next_head.tree_size <= self.size:
            head = self.next_head
            self.next_head = next(self.heads, None)
            self.head_count += 1
            self.check_head(head)

    def check_head(self, head: SignedTreeHead) -> None:
        size = head.tree_size
        if self.keys is not None:
            key = self.keys.get(head.key_id)
            if key is None:
                self.obs.add(
                    "unknown-key",
                    f"tree head at size {size} is signed by key {head.key_id}, which is not "
                    "a trusted key",
                )
                self.rejected.add(size)
                return
            if not head.verify(key):
                self.obs.add(
                    "bad-signature",
                    f"tree head at size {size} has a bad signature: it was forged or altered",
                )
                self.rejected.add(size)
                return
        if head.previous_tree_size in self.rejected:
            pass  # already reported: its signature failed
        elif head.previous_tree_size > self.chain_size:
            self.obs.add(
                "missing-tree-head",
                f"signed tree head at size {head.previous_tree_size} is missing (the tree "
                f"head at size {size} names it as the one before it)",
            )
        elif head.previous_tree_size < self.chain_size:
            self.obs.add(
                "forked-tree-heads",
                f"tree heads at sizes {self.chain_size} and {size} both follow the tree head "
                f"at size {head.previous_tree_size}: the log forked",
            )
        if head.timestamp_ms < self.chain_timestamp:
            self.obs.add(
                "tree-head-time",
                f"tree head at size {size} is older than the tree head before it",
            )
        self.chain_size, self.chain_timestamp = size, head.timestamp_ms
        self.latest = head
        self.compare_root(head)

    def compare_root(self, head: SignedTreeHead) -> None:
        size, signed = head.tree_size, head.root_hash
        rec_root = _fold_known(self.recomputed)
        entries_match = rec_root == signed
        stored_match = not entries_match and _fold_known(self.stored) == signed
        for mismatch in self.open_mismatches:
            if entries_match:
                mismatch.authenticated = False
            elif (
                stored_match
                and not self.tainted_overflow
                and not any(
                    start <= mismatch.start and mismatch.end <= end for start, end in self.tainted
                )
            ):
                mismatch.authenticated = True
        self.open_mismatches.clear()
        self.tainted.clear()
        self.tainted_overflow = False
        if entries_match:
            self._close_run()
            self.last_good = size
            return
        if rec_root is None:
            self.obs.add(
                "unverifiable",
                f"signed tree head at size {size} cannot be checked: entries are missing "
                "and no stored node covers them",
            )
            return
        if self.run is None:
            self.run = [self.last_good, size, 1]
        else:
            self.run[2] += 1
        if stored_match:
            # the stored subtrees are the signed ones: continue from them
            self.recomputed[:] = self.stored
            self._close_run()
            self.last_good = size

    def _close_run(self) -> None:
        if self.run is None:
            return
        start, first, count = self.run
        self.run = None
        where = (
            f"between signed tree heads {start} and {first}"
            if start
            else f"up to the first signed tree head, at size {first}"
        )
        message = (
            f"signed tree head at size {first} does not match the entries: "
            f"{span(start, first)} ({where}) were altered"
        )
        if count > 1:
            message += (
                f"; the {count - 1} later tree head(s) do not match either, so changes after "
                "it cannot be localised"
            )
        self.obs.other.append(Finding("tree-head-mismatch", message, (start, first - 1)))

    # -- the walk -----------------------------------------------------------------------------

    def missing(self, start: int, end: int) -> None:
        if self.obs.missing and self.obs.missing[-1][1] == start:
            start = self.obs.missing.pop()[0]
        self.obs.missing.append((start, end))

    def run_walk(self) -> int:
        if self.next_head is not None and self.next_head.tree_size == 0:
            self.check_heads()
        statement = select(LogEntry.index, LogEntry.leaf_input, LogEntry.leaf_hash).order_by(
            LogEntry.index
        )
        rows = self.conn.execution_options(yield_per=CHUNK).execute(statement)
        self.results.append(rows)
        sha256 = hashlib.sha256
        push = self.push
        count = 0
        for index, leaf_input, stored_leaf in rows:
            if index != self.size:
                self.missing(self.size, index)
                while self.size < index:
                    push(None, None)
            leaf = sha256(b"\x00" + leaf_input).digest()
            if leaf != stored_leaf:
                self.obs.leaf_mismatch(index, leaf, stored_leaf)
            push(leaf, stored_leaf)
            count += 1
        while self.next_head is not None:  # heads over entries that are gone
            end = self.next_head.tree_size
            self.missing(self.size, end)
            while self.size < end:
                push(None, None)
        self._close_run()
        if self.size > self.chain_size:
            self.obs.add(
                "not-covered",
                f"{span(self.chain_size, self.size)} not covered by a signed tree head: the "
                f"tree head over them is missing or was never signed",
                self.chain_size,
                self.size - 1,
            )
        return count


def _fold_known(hashes: list[bytes | None]) -> bytes | None:
    known = [h for h in hashes if h is not None]
    return fold(known) if len(known) == len(hashes) else None


def verify_connection(
    conn: Connection, *, keys: Sequence[VerifyingKey] | None
) -> VerificationReport:
    """Verify the log readable through ``conn`` (one consistent snapshot is the caller's job).

    ``keys`` are the trusted public keys; ``None`` skips signature checks (and says so).
    """
    started = time.perf_counter()
    walk = _Walk(conn, keys)
    try:
        entries = walk.run_walk()
    finally:
        for result in walk.results:
            result.close()
    return VerificationReport(
        entries=entries,
        tree_heads=walk.head_count,
        latest=walk.latest,
        signatures_checked=keys is not None,
        findings=walk.obs.findings(),
        seconds=time.perf_counter() - started,
    )


def verify_log(database_url: str, *, keys: Sequence[VerifyingKey] | None) -> VerificationReport:
    """Verify the transparency log in the database at ``database_url``, read-only.

    Reads in one snapshot: a REPEATABLE READ, read-only transaction on PostgreSQL, a read
    transaction on SQLite (WAL), so appends going on meanwhile do not disturb it.
    """
    engine = make_engine(database_url, readonly=True, pool_size=1)
    try:
        options: dict[str, Any] = {}
        if engine.dialect.name == "postgresql":
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with engine.connect().execution_options(**options) as conn, conn.begin():
            return verify_connection(conn, keys=keys)
    finally:
        engine.dispose()
