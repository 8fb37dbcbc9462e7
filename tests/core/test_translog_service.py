"""The transparency log's use cases on SQLite and PostgreSQL: appends, tree heads, proofs."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event, func, select

from joinedup.core.db import Database
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.keys import SigningKey
from joinedup.core.pagination import PageRequest
from joinedup.core.translog import (
    LogAppender,
    append,
    append_batch,
    consistency_proof,
    inclusion_proof,
    latest_tree_head,
    list_entries,
    merkle,
    tree_head_at,
    verify_log,
)
from joinedup.core.translog.models import LogEntry, LogNode, TreeHead

SIGNER = SigningKey.generate()


def _append_batches(
    database: Database, sizes: list[int], *, start: int = 0, signer: SigningKey = SIGNER
) -> list[bytes]:
    made = []
    for size in sizes:
        batch = [f"record {start + len(made) + i}".encode() for i in range(size)]
        with database.unit_of_work() as session:
            indices = append(session, kind="test.record", leaf_inputs=batch, signer=signer)
        assert indices == list(range(start + len(made), start + len(made) + size))
        made.extend(batch)
    return made


@contextmanager
def _captured(database: Database) -> Iterator[list[tuple[str, Any]]]:
    """Every statement (and its parameters) sent by the writer and the reader engines."""
    seen: list[tuple[str, Any]] = []

    def record(*args: Any) -> None:
        seen.append((args[2], args[3]))

    engines = {database.engine, database.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


def _queries(seen: list[tuple[str, Any]]) -> list[str]:
    return [sql for sql, _ in seen if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT"))]


def test_roots_and_proofs_from_the_database_match_an_in_memory_tree(database: Database) -> None:
    rng = random.Random(6962)
    sizes = [rng.randint(1, 40) for _ in range(14)] + [1, 1, 64]
    inputs: list[bytes] = []
    head_sizes = []
    for size in sizes:
        inputs += _append_batches(database, [size], start=len(inputs))
        head_sizes.append(len(inputs))
        with database.reading() as session:
            head = latest_tree_head(session)
        assert head is not None
        assert head.tree_size == len(inputs)
        assert head.root_hash == merkle.mth([merkle.leaf_hash(d) for d in inputs])

    leaves = [merkle.leaf_hash(d) for d in inputs]
    with database.reading() as session:
        for _ in range(60):
            size = rng.choice(head_sizes)
            index = rng.randrange(size)
            proof = inclusion_proof(session, index=index, tree_size=size)
            assert proof.leaf_hash == leaves[index]
            assert proof.path == merkle.inclusion_path(index, leaves[:size])
            assert merkle.verify_inclusion(
                proof.leaf_hash, index, size, proof.path, proof.tree_head.root_hash
            )
        for _ in range(60):
            first, second = sorted(rng.sample(head_sizes, 2))
            consistency = consistency_proof(session, first=first, second=second)
            assert consistency.path == merkle.consistency_proof(first, leaves[:second])
            assert merkle.verify_consistency(
                first,
                second,
                consistency.first.root_hash,
                consistency.second.root_hash,
                consistency.path,
            )
        latest = inclusion_proof(session, index=0)  # default: the latest tree head
        assert latest.tree_size == len(inputs)


def test_tree_heads_are_signed_and_chained(database: Database) -> None:
    _append_batches(database, [3, 1, 7, 2])
    other = SigningKey.generate()
    with database.reading() as session:
        rows = session.scalars(select(TreeHead).order_by(TreeHead.tree_size)).all()
        heads = [tree_head_at(session, tree_size=row.tree_size) for row in rows]
    assert [h.tree_size for h in heads] == [3, 4, 11, 13]
    assert [h.previous_tree_size for h in heads] == [0, 3, 4, 11]
    assert [h.timestamp_ms for h in heads] == sorted(h.timestamp_ms for h in heads)
    for head in heads:
        assert head.key_id == SIGNER.key_id
        assert head.verify(SIGNER.verifying_key)
        assert not head.verify(other.verifying_key)
        assert len(head.signed_data()) == 58
        assert head.signed_data()[:2] == b"\x00\x01"  # v1, tree_hash


def test_proofs_are_only_given_for_signed_tree_sizes(database: Database) -> None:
    with database.reading() as session:
        with pytest.raises(NotFound, match="empty"):
            tree_head_at(session)
        with pytest.raises(NotFound, match="empty"):
            inclusion_proof(session, index=0)
    _append_batches(database, [4, 4])
    with database.reading() as session:
        with pytest.raises(NotFound, match="no signed tree head has tree_size 5"):
            inclusion_proof(session, index=0, tree_size=5)
        with pytest.raises(ValidationFailed, match="index must be between 0 and 3"):
            inclusion_proof(session, index=4, tree_size=4)
        with pytest.raises(ValidationFailed, match="index"):
            inclusion_proof(session, index=-1)
        with pytest.raises(ValidationFailed, match="at least 1"):
            inclusion_proof(session, index=0, tree_size=0)
        with pytest.raises(ValidationFailed, match="must not be larger"):
            consistency_proof(session, first=8, second=4)
        with pytest.raises(NotFound, match="tree_size 6"):
            consistency_proof(session, first=6)
        same = consistency_proof(session, first=8, second=8)
        assert same.path == []


def test_append_and_proofs_take_a_few_queries_whatever_the_size(database: Database) -> None:
    _append_batches(database, [1000, 23])
    with _captured(database) as seen, database.unit_of_work() as session:
        append(session, kind="test.record", leaf_inputs=[b"a", b"b", b"c"], signer=SIGNER)
    writes_and_reads = _queries(seen)
    # the lock (PostgreSQL), the last head, the frontier (leaf, nodes), three bulk inserts
    assert len(writes_and_reads) <= 7, writes_and_reads
    with database.reading() as session, _captured(database) as seen:
        inclusion_proof(session, index=517, tree_size=1023)
        proof_queries = len(_queries(seen))
        consistency_proof(session, first=1000, second=1026)
    assert proof_queries == 3  # the tree head, the leaf hashes, the node hashes
    assert len(_queries(seen)) - proof_queries <= 4  # two tree heads, leaves, nodes


def _append_then_fail(database: Database, leaf: bytes) -> None:
    with database.unit_of_work() as session:
        append(session, kind="test.record", leaf_inputs=[leaf], signer=SIGNER)
        raise RuntimeError("rolled back")


def test_the_next_append_reuses_the_frontier_only_of_the_tree_the_head_signs(
    database: Database,
) -> None:
    """An append after this process's own reads no frontier; after another process appended
    (forgotten here, as if it were another process) or after a rolled-back append, the head
    differs and the frontier is read again. Every root stays the in-memory tree's."""
    from joinedup.core.translog import service

    made = _append_batches(database, [5, 3])
    with _captured(database) as seen, database.unit_of_work() as session:
        append(session, kind="test.record", leaf_inputs=[b"own"], signer=SIGNER)
    made.append(b"own")
    assert not [sql for sql in _queries(seen) if "tlog_node" in sql and "SELECT" in sql.upper()]
    # another process appends: this one's remembered tree is not the signed head's any more
    remembered = dict(service._FRONTIERS)
    made.extend(_append_batches(database, [6], start=len(made)))
    service._FRONTIERS.clear()
    service._FRONTIERS.update(remembered)
    # an append rolled back: the tree it remembered was never signed; then another process
    # appends as many entries, so the head has the remembered size but another root
    with pytest.raises(RuntimeError):
        _append_then_fail(database, b"lost")
    remembered = dict(service._FRONTIERS)
    made.extend(_append_batches(database, [1], start=len(made)))
    assert remembered != service._FRONTIERS
    service._FRONTIERS.clear()
    service._FRONTIERS.update(remembered)
    with _captured(database) as seen, database.unit_of_work() as session:
        append(session, kind="test.record", leaf_inputs=[b"after"], signer=SIGNER)
    made.append(b"after")
    assert [sql for sql in _queries(seen) if "SELECT" in sql.upper() and "tlog_node" in sql]
    with database.reading() as session:
        head = latest_tree_head(session)
    assert head.tree_size == len(made)
    assert head.root_hash == merkle.mth([merkle.leaf_hash(leaf) for leaf in made])
    assert verify_log(database.url, keys=[SIGNER.verifying_key]).intact


def test_appends_and_proofs_search_the_indexes_never_scan(sqlite_database: Database) -> None:
    """A table scan would make every append and proof slower as the log grows."""
    _append_batches(sqlite_database, [1000, 23])
    with _captured(sqlite_database) as captured:
        with sqlite_database.unit_of_work() as session:
            append(session, kind="test.record", leaf_inputs=[b"x"], signer=SIGNER)
        with sqlite_database.reading() as session:
            inclusion_proof(session, index=517, tree_size=1023)
            consistency_proof(session, first=1023, second=1024)
    selects = [(sql, params) for sql, params in captured if sql.lstrip().startswith("SELECT")]
    assert len(selects) >= 6
    with sqlite_database.engine.connect() as conn:
        for sql, params in selects:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
            details = " ".join(str(row[-1]) for row in plan)
            assert "SCAN tlog" not in details or "USING" in details, (sql, details)


def test_append_stores_each_complete_subtree_once(database: Database) -> None:
    _append_batches(database, [5, 6, 5])  # 16 leaves: 8 + 4 + 2 + 1 nodes above them
    with database.reading() as session:
        nodes = session.execute(select(LogNode.level, func.count()).group_by(LogNode.level))
        assert {row[0]: row[1] for row in nodes} == {1: 8, 2: 4, 3: 2, 4: 1}
        assert session.scalar(select(func.count()).select_from(LogEntry)) == 16


def test_append_refuses_what_it_cannot_log(database: Database) -> None:
    with database.unit_of_work() as session:
        with pytest.raises(ValidationFailed, match="at least one"):
            append(session, kind="x", leaf_inputs=[], signer=SIGNER)
        with pytest.raises(ValidationFailed, match="kind must be"):
            append(session, kind="", leaf_inputs=[b"a"], signer=SIGNER)
        with pytest.raises(ValidationFailed, match="kind must be"):
            append(session, kind="k" * 65, leaf_inputs=[b"a"], signer=SIGNER)
        with pytest.raises(ValidationFailed, match="one kind per leaf input"):
            append_batch(session, kinds=["a"], leaf_inputs=[b"a", b"b"], signer=SIGNER)


def test_entries_are_listed_by_keyset_pages(database: Database) -> None:
    inputs = _append_batches(database, [70, 50])
    seen = []
    cursor = None
    with database.reading() as session:
        while True:
            page = list_entries(session, request=PageRequest(cursor=cursor, limit=50))
            seen.extend(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert [e.index for e in seen] == list(range(120))
    assert all(e.kind == "test.record" for e in seen)
    assert [e.leaf_hash for e in seen] == [merkle.leaf_hash(d) for d in inputs]


def test_the_session_appender_appends_once_at_commit(database: Database) -> None:
    _append_batches(database, [2])
    with database.unit_of_work() as session:
        appender = LogAppender.of(session, signer=SIGNER)
        assert LogAppender.of(session, signer=SIGNER) is appender
        with pytest.raises(ValueError, match="another key"):
            LogAppender.of(session, signer=SigningKey.generate())
        pending = [
            appender.add(kind="exchange.message", leaf_input=b"m1"),
            appender.add(kind="exchange.usage", leaf_input=b"u1"),
            appender.add(kind="exchange.usage", leaf_input=b"u2"),
        ]
        assert [p.index for p in pending] == [None, None, None]
        assert pending[0].leaf_hash == merkle.leaf_hash(b"m1")
    assert [p.index for p in pending] == [2, 3, 4]
    assert appender.last_tree_head is not None
    assert appender.last_tree_head.tree_size == 5
    with database.reading() as session:
        page = list_entries(session, request=PageRequest(limit=10))
        assert [e.kind for e in page.items][2:] == [
            "exchange.message",
            "exchange.usage",
            "exchange.usage",
        ]
        assert session.scalar(select(func.count()).select_from(TreeHead)) == 2  # one per commit


def test_the_session_appender_forgets_a_rolled_back_transaction(database: Database) -> None:
    def failing_use_case() -> None:
        with database.unit_of_work() as session:
            LogAppender.of(session, signer=SIGNER).add(kind="x", leaf_input=b"lost")
            raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError):
        failing_use_case()
    with database.reading() as session:
        assert latest_tree_head(session) is None


def test_the_appender_flushes_when_full_and_on_demand(database: Database) -> None:
    with database.unit_of_work() as session:
        appender = LogAppender(session, signer=SIGNER, max_pending=3)
        for i in range(7):
            appender.add(kind="x", leaf_input=bytes([i]))
        assert len(appender) == 1  # two batches of three went already
        assert appender.flush() == [6]
        assert appender.flush() == []
    with database.reading() as session:
        head = latest_tree_head(session)
        assert head is not None
        assert head.tree_size == 7
        assert session.scalar(select(func.count()).select_from(TreeHead)) == 3


def test_concurrent_appends_never_take_the_same_index(database: Database) -> None:
    failures: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            for i in range(25):
                with database.unit_of_work() as session:
                    batch = [f"{name}-{i}-{j}".encode() for j in range(3)]
                    append(session, kind=name, leaf_inputs=batch, signer=SIGNER)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with database.reading() as session:
        indices = session.scalars(select(LogEntry.index).order_by(LogEntry.index)).all()
        head = latest_tree_head(session)
    assert indices == list(range(150))
    assert head is not None
    assert head.tree_size == 150
    report = verify_log(database.url, keys=[SIGNER.verifying_key])
    assert report.intact, report.findings
    assert report.tree_heads == 50
