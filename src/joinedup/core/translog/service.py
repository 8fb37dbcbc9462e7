"""Use cases of the transparency log: append, tree heads, proofs, entries.

The caller owns the transaction: nothing here commits. Appends are serialised per log so two
batches never take the same index: SQLite's writer transactions hold the database write lock
(``BEGIN IMMEDIATE``), and on PostgreSQL :func:`append` takes a transaction-scoped advisory
lock before it reads the current size (PostgreSQL's default READ COMMITTED isolation then
sees the latest committed tree head).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Table, and_, or_, select, text
from sqlalchemy.orm import Session, defer

from joinedup.core.bulk_writes import MAX_PARAMETERS, insert_rows, parameter_marker
from joinedup.core.clock import utcnow
from joinedup.core.errors import DomainError, NotFound, ValidationFailed
from joinedup.core.keys import SigningKey
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.core.translog import merkle
from joinedup.core.translog.models import LogEntry, LogNode, TreeHead
from joinedup.core.translog.treehead import SignedTreeHead

#: ``pg_advisory_xact_lock`` key serialising appends ("jutlog" in ASCII).
APPEND_LOCK_KEY = 0x6A75_746C_6F67
MAX_KIND_LENGTH = 64

_ENTRY_TABLE: Table = LogEntry.__table__  # type: ignore[assignment]
_NODE_TABLE: Table = LogNode.__table__  # type: ignore[assignment]
_HEAD_TABLE: Table = TreeHead.__table__  # type: ignore[assignment]
_sha256 = hashlib.sha256
#: The latest tree head's size, timestamp and root (the primary key orders it: one index step).
_LATEST_HEAD_SQL = (
    "SELECT tree_size, timestamp_ms, root_hash FROM tlog_tree_head ORDER BY tree_size DESC LIMIT 1"
)
#: The frontier of the tree each database's last append in this process made: database URL
#: → (tree size, root hash, the frontier's levels and hashes). The next append uses it when
#: the latest signed head is that tree (same size and root: the same frontier, as the root is
#: their hash) instead of reading the frontier again; when another process appended since,
#: or that append's transaction was rolled back, the head differs and the frontier is read.
_FRONTIERS: dict[str, tuple[int, bytes, tuple[int, ...], tuple[bytes, ...]]] = {}
_HEAD_COLUMNS = (
    "tree_size",
    "root_hash",
    "timestamp_ms",
    "previous_tree_size",
    "key_id",
    "signature",
)


class LogDamaged(DomainError):
    """The stored tree lacks a node a proof needs: the log must be verified and repaired."""

    slug = "transparency-log-damaged"
    title = "The transparency log is damaged"
    status = 500


@dataclass(frozen=True)
class InclusionProof:
    index: int
    leaf_hash: bytes
    path: list[bytes]
    tree_head: SignedTreeHead

    @property
    def tree_size(self) -> int:
        return self.tree_head.tree_size


@dataclass(frozen=True)
class ConsistencyProof:
    path: list[bytes]
    first: SignedTreeHead
    second: SignedTreeHead


@dataclass(frozen=True)
class EntrySummary:
    index: int
    kind: str
    leaf_hash: bytes


@dataclass(frozen=True)
class AppendResult:
    """The indices given to a batch and the tree head signed over it."""

    indices: range
    tree_head: SignedTreeHead


def _to_tree_head(row: TreeHead) -> SignedTreeHead:
    return SignedTreeHead(
        tree_size=row.tree_size,
        timestamp_ms=row.timestamp_ms,
        root_hash=row.root_hash,
        previous_tree_size=row.previous_tree_size,
        key_id=row.key_id,
        signature=row.signature,
    )


def _lock_appends(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK_KEY})


def _check_kinds(kinds: Iterable[str]) -> None:
    for kind in set(kinds):
        if not kind or len(kind) > MAX_KIND_LENGTH:
            raise ValidationFailed(
                f"kind must be 1 to {MAX_KIND_LENGTH} characters", parameter="kind", value=kind
            )


def append_batch(
    session: Session,
    *,
    kinds: str | Sequence[str],
    leaf_inputs: Sequence[bytes],
    signer: SigningKey,
) -> AppendResult:
    """Append ``leaf_inputs`` as the next entries and sign one tree head over the new tree.

    Writes the ``tlog_entry`` rows, the ``tlog_node`` rows of every complete subtree the batch
    finishes (bulk inserts), and one ``tlog_tree_head`` row; reads only the previous tree
    head and the O(log n) subtree hashes of the previous tree's frontier. ``kinds`` is one
    kind for the whole batch or one per entry.
    """
    if not leaf_inputs:
        raise ValidationFailed("nothing to append: give at least one leaf input")
    kind_list = [kinds] * len(leaf_inputs) if isinstance(kinds, str) else kinds
    if len(kind_list) != len(leaf_inputs):
        raise ValidationFailed("give one kind per leaf input, or one kind for all")
    _check_kinds(kind_list)

    _lock_appends(session)
    # at the driver: the ORM's statement handling cost more than this one-row read (it runs in
    # every append, i.e. in every group commit of the exchange)
    connection = session.connection()
    previous = connection.exec_driver_sql(_LATEST_HEAD_SQL).first()
    size = previous[0] if previous is not None else 0
    levels: list[int] = []
    hashes: list[bytes] = []
    url = str(connection.engine.url)
    known = _FRONTIERS.get(url)
    if previous is not None and known is not None and known[:2] == (size, bytes(previous[2])):
        levels.extend(known[2])
        hashes.extend(known[3])
    elif size:
        stored = fetch_subtree_hashes(session, merkle.frontier(size))
        for level, index in merkle.frontier(size):
            levels.append(level)
            hashes.append(stored[level, index])

    now = utcnow()
    entry_rows: list[tuple[int, str, bytes, bytes]] = []
    node_rows: list[tuple[int, int, bytes]] = []
    node = merkle.node_hash
    for index, kind, leaf_input in zip(
        range(size, size + len(leaf_inputs)), kind_list, leaf_inputs, strict=True
    ):
        current = _sha256(b"\x00" + leaf_input).digest()
        entry_rows.append((index, kind, leaf_input, current))
        level = 0
        while levels and levels[-1] == level:
            levels.pop()
            current = node(hashes.pop(), current)
            level += 1
            node_rows.append((level, index >> level, current))
        levels.append(level)
        hashes.append(current)

    # the log's values are ints, strings and bytes: no per-value type processing on this path
    entry_columns = ("index", "kind", "leaf_input", "leaf_hash")
    insert_rows(connection, _ENTRY_TABLE, entry_columns, entry_rows, plain_values=True)
    if node_rows:
        node_columns = ("level", "index", "hash")
        insert_rows(connection, _NODE_TABLE, node_columns, node_rows, plain_values=True)
    new_size = size + len(leaf_inputs)
    timestamp_ms = int(now.timestamp() * 1000)
    if previous is not None:  # heads never go back in time, even if clocks of two hosts differ
        timestamp_ms = max(timestamp_ms, previous[1])
    head = SignedTreeHead.sign(
        signer,
        tree_size=new_size,
        timestamp_ms=timestamp_ms,
        root_hash=merkle.fold(hashes),
        previous_tree_size=size,
    )
    _FRONTIERS[url] = (new_size, head.root_hash, tuple(levels), tuple(hashes))
    insert_rows(
        connection,
        _HEAD_TABLE,
        _HEAD_COLUMNS,
        [
            (
                head.tree_size,
                head.root_hash,
                head.timestamp_ms,
                head.previous_tree_size,
                head.key_id,
                head.signature,
            )
        ],
        plain_values=True,
    )
    return AppendResult(indices=range(size, new_size), tree_head=head)


def append(
    session: Session, *, kind: str, leaf_inputs: Sequence[bytes], signer: SigningKey
) -> list[int]:
    """Append a batch of entries of one ``kind``; returns their indices.

    Changes: ``tlog_entry``, ``tlog_node`` and one signed ``tlog_tree_head``. Emits no event.
    """
    return list(append_batch(session, kinds=kind, leaf_inputs=leaf_inputs, signer=signer).indices)


def fetch_subtree_hashes(
    session: Session, nodes: Iterable[merkle.NodeId]
) -> dict[merkle.NodeId, bytes]:
    """The stored hashes of the given perfect subtrees, in at most two queries.

    Leaves (level 0) come from ``tlog_entry``, higher levels from ``tlog_node``. A missing
    one means the store is damaged: :class:`LogDamaged`.
    """
    wanted = set(nodes)
    leaves = sorted(index for level, index in wanted if level == 0)
    inner = sorted((level, index) for level, index in wanted if level > 0)
    found: dict[merkle.NodeId, bytes] = {}
    connection = session.connection()
    dialect = connection.dialect
    marker = parameter_marker(dialect)
    if marker is not None and len(leaves) + 2 * len(inner) <= MAX_PARAMETERS:
        # at the driver: building the OR of equalities as SQLAlchemy expressions cost more
        # than the queries themselves (these run in every append, for the frontier)
        quote = dialect.identifier_preparer.quote
        index_column = quote("index")
        if leaves:
            sql = (
                f"SELECT {index_column}, {quote('leaf_hash')} FROM {quote(_ENTRY_TABLE.name)} "  # noqa: S608 (our names)
                f"WHERE {index_column} IN ({', '.join(marker for _ in leaves)})"
            )
            found.update(
                ((0, index), bytes(leaf))
                for index, leaf in connection.exec_driver_sql(sql, tuple(leaves))
            )
        if inner:
            # an OR of equalities, not a row-value IN: SQLite scans the table for the latter
            level_column = quote("level")
            condition = f"({level_column} = {marker} AND {index_column} = {marker})"
            sql = (
                f"SELECT {level_column}, {index_column}, {quote('hash')} "  # noqa: S608 (our names)
                f"FROM {quote(_NODE_TABLE.name)} "
                f"WHERE {' OR '.join(condition for _ in inner)}"
            )
            parameters = tuple(value for node in inner for value in node)
            found.update(
                ((level, index), bytes(value))
                for level, index, value in connection.exec_driver_sql(sql, parameters)
            )
    else:
        if leaves:
            rows = session.execute(
                select(LogEntry.index, LogEntry.leaf_hash).where(LogEntry.index.in_(leaves))
            )
            found.update(((0, index), leaf) for index, leaf in rows)
        if inner:
            # an OR of equalities, not a row-value IN: SQLite scans the table for the latter
            wanted_nodes = or_(
                *(and_(LogNode.level == lv, LogNode.index == ix) for lv, ix in inner)
            )
            inner_rows = session.execute(
                select(LogNode.level, LogNode.index, LogNode.hash).where(wanted_nodes)
            )
            found.update(((level, index), value) for level, index, value in inner_rows)
    missing = wanted - found.keys()
    if missing:
        level, index = min(missing)
        raise LogDamaged(
            f"the stored tree has no hash for the subtree at level {level}, index {index}: "
            "run `joinedup log verify`",
            level=level,
            index=index,
        )
    return found


def latest_tree_head(session: Session) -> SignedTreeHead | None:
    """The most recent signed tree head, or ``None`` while the log is empty."""
    row = session.scalars(select(TreeHead).order_by(TreeHead.tree_size.desc()).limit(1)).first()
    return _to_tree_head(row) if row else None


def tree_head_at(
    session: Session, *, tree_size: int | None = None, parameter: str = "tree_size"
) -> SignedTreeHead:
    """The signed tree head of ``tree_size`` (the latest when ``None``).

    Proofs are only given between sizes that have a signed tree head, so a verifier always
    has a signed root to check them against.
    """
    if tree_size is None:
        head = latest_tree_head(session)
        if head is None:
            raise NotFound("the transparency log is empty: it has no signed tree head yet")
        return head
    if tree_size < 1:
        raise ValidationFailed(f"{parameter} must be at least 1", parameter=parameter)
    row = session.get(TreeHead, tree_size)
    if row is None:
        latest = latest_tree_head(session)
        hint = f" (the latest is {latest.tree_size})" if latest else " (the log is empty)"
        raise NotFound(
            f"no signed tree head has tree_size {tree_size} ({parameter}): use the size of a "
            f"signed tree head{hint}",
            parameter=parameter,
        )
    return _to_tree_head(row)


def inclusion_proof(
    session: Session, *, index: int, tree_size: int | None = None
) -> InclusionProof:
    """PATH(index, D[tree_size]) from the stored subtree hashes, with the signed tree head."""
    head = tree_head_at(session, tree_size=tree_size)
    if not 0 <= index < head.tree_size:
        raise ValidationFailed(
            f"index must be between 0 and {head.tree_size - 1} for tree_size {head.tree_size}",
            parameter="index",
            value=index,
        )
    ranges = merkle.inclusion_ranges(index, head.tree_size)
    hashes = fetch_subtree_hashes(session, merkle.nodes_for(ranges) | {(0, index)})
    return InclusionProof(
        index=index,
        leaf_hash=hashes[0, index],
        path=merkle.hash_ranges(ranges, hashes.__getitem__),
        tree_head=head,
    )


def consistency_proof(
    session: Session, *, first: int, second: int | None = None
) -> ConsistencyProof:
    """PROOF(first, D[second]) from the stored subtree hashes, with both signed tree heads."""
    second_head = tree_head_at(session, tree_size=second, parameter="second")
    first_head = tree_head_at(session, tree_size=first, parameter="first")
    if first_head.tree_size > second_head.tree_size:
        raise ValidationFailed(
            f"first ({first}) must not be larger than second ({second_head.tree_size})",
            parameter="first",
        )
    ranges = merkle.consistency_ranges(first_head.tree_size, second_head.tree_size)
    hashes = fetch_subtree_hashes(session, merkle.nodes_for(ranges))
    return ConsistencyProof(
        path=merkle.hash_ranges(ranges, hashes.__getitem__), first=first_head, second=second_head
    )


def list_entries(session: Session, *, request: PageRequest) -> Page[EntrySummary]:
    """One page of entries in index order (keyset pagination), without their leaf inputs."""
    statement = select(LogEntry).options(defer(LogEntry.leaf_input))
    rows, next_cursor = keyset_page(
        session, statement, keys=[LogEntry.index.expression], request=request
    )
    return Page[EntrySummary](
        items=[EntrySummary(row.index, row.kind, row.leaf_hash) for row in rows],
        next_cursor=next_cursor,
    )
