"""``joinedup log verify`` names every kind of tampering, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from sqlalchemy import Connection, text
from typer.testing import CliRunner

from joinedup.cli import app
from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.core.translog import append, merkle

SIGNER = SigningKey.generate()
runner = CliRunner()


@pytest.fixture
def log(database: Database) -> Database:
    """100 entries appended in ten batches: signed tree heads at sizes 10, 20, …, 100."""
    for batch in range(10):
        inputs = [f"entry-{batch * 10 + i}".encode() for i in range(10)]
        with database.unit_of_work() as session:
            append(session, kind="test.record", leaf_inputs=inputs, signer=SIGNER)
    return database


@pytest.fixture
def public_key(tmp_path: Path) -> Path:
    path = tmp_path / "log-public.pem"
    path.write_text(SIGNER.public_pem())
    return path


def _verify(database: Database, public_key: Path, *extra: str) -> tuple[int, list[str]]:
    result = runner.invoke(
        app,
        ["log", "verify", "--database-url", database.url, "--public-key", str(public_key), *extra],
    )
    return result.exit_code, result.stdout.strip().splitlines()


def _sql(database: Database, statement: str, **params: object) -> None:
    with database.engine.begin() as conn:
        conn.execute(text(statement), params)


def _move_entry(conn: Connection, source: int, target: int) -> None:
    conn.execute(
        text('UPDATE tlog_entry SET "index" = :target WHERE "index" = :source'),
        {"source": source, "target": target},
    )


def test_an_intact_log_verifies(log: Database, public_key: Path) -> None:
    code, lines = _verify(log, public_key)
    assert code == 0, lines
    assert len(lines) == 1
    assert "transparency log intact: 100 entries, 10 signed tree heads" in lines[0]
    assert "signatures checked" in lines[0]


def test_a_rewritten_leaf_input_is_named(log: Database, public_key: Path) -> None:
    _sql(log, 'UPDATE tlog_entry SET leaf_input = :v WHERE "index" = 37', v=b"forged")
    code, lines = _verify(log, public_key)
    assert code == 1
    assert "entry 37 was rewritten: its leaf_input no longer matches its leaf hash" in lines
    assert any("entries 30–39 (between signed tree heads 30 and 40)" in line for line in lines)
    assert "NOT intact" in lines[-1]


def test_a_rewrite_with_a_matching_leaf_hash_is_localised(log: Database, public_key: Path) -> None:
    forged = b"forged"
    _sql(
        log,
        'UPDATE tlog_entry SET leaf_input = :v, leaf_hash = :h WHERE "index" = 37',
        v=forged,
        h=merkle.leaf_hash(forged),
    )
    code, lines = _verify(log, public_key)
    assert code == 1
    assert any(line.startswith("entries 36–37: one of them was rewritten") for line in lines)
    assert any("entries 30–39 (between signed tree heads 30 and 40)" in line for line in lines)


def test_a_rewrite_of_entries_and_tree_nodes_is_caught_by_the_signed_heads(
    log: Database, public_key: Path
) -> None:
    """The attacker recomputes every leaf hash and tree node: only the signatures remain."""
    inputs = [f"entry-{i}".encode() for i in range(100)]
    inputs[37] = b"forged"
    leaves = [merkle.leaf_hash(d) for d in inputs]
    levels = [leaves]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append(
            [merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        )
    with log.engine.begin() as conn:
        conn.execute(
            text('UPDATE tlog_entry SET leaf_input = :v, leaf_hash = :h WHERE "index" = 37'),
            {"v": inputs[37], "h": leaves[37]},
        )
        conn.execute(text("DELETE FROM tlog_node"))
        conn.execute(
            text('INSERT INTO tlog_node (level, "index", hash) VALUES (:level, :index, :hash)'),
            [
                {"level": level, "index": index, "hash": value}
                for level, hashes in enumerate(levels)
                if level
                for index, value in enumerate(hashes)
            ],
        )
    code, lines = _verify(log, public_key)
    assert code == 1
    assert lines[:-1] == [
        "signed tree head at size 40 does not match the entries: entries 30–39 (between "
        "signed tree heads 30 and 40) were altered; the 6 later tree head(s) do not match "
        "either, so changes after it cannot be localised"
    ]


def test_a_deleted_entry_is_named(log: Database, public_key: Path) -> None:
    _sql(log, 'DELETE FROM tlog_entry WHERE "index" = 57')
    code, lines = _verify(log, public_key)
    assert code == 1
    assert lines[:-1] == ["entry 57 is missing"]


def test_deleted_entries_at_the_end_are_named(log: Database, public_key: Path) -> None:
    _sql(log, 'DELETE FROM tlog_entry WHERE "index" >= 95')
    code, lines = _verify(log, public_key)
    assert code == 1
    assert "entries 95–99 are missing" in lines


@pytest.mark.parametrize(("first", "second"), [(5, 6), (4, 5), (5, 66)])
def test_swapped_entries_are_named(
    log: Database, public_key: Path, first: int, second: int
) -> None:
    with log.engine.begin() as conn:
        _move_entry(conn, first, -1)
        _move_entry(conn, second, first)
        _move_entry(conn, -1, second)
    code, lines = _verify(log, public_key)
    assert code == 1
    assert f"entries {first} and {second} are out of order" in lines
    assert not any("rewritten" in line for line in lines)


def test_swapped_contents_under_unchanged_leaf_hashes_are_named(
    log: Database, public_key: Path
) -> None:
    _sql(log, 'UPDATE tlog_entry SET leaf_input = :v WHERE "index" = 12', v=b"entry-81")
    _sql(log, 'UPDATE tlog_entry SET leaf_input = :v WHERE "index" = 81', v=b"entry-12")
    code, lines = _verify(log, public_key)
    assert code == 1
    assert "entries 12 and 81 are out of order" in lines


def test_a_deleted_tree_head_is_named(log: Database, public_key: Path) -> None:
    _sql(log, "DELETE FROM tlog_tree_head WHERE tree_size = 50")
    code, lines = _verify(log, public_key)
    assert code == 1
    assert lines[:-1] == [
        "signed tree head at size 50 is missing (the tree head at size 60 names it as the one "
        "before it)"
    ]


def test_a_deleted_latest_tree_head_leaves_entries_uncovered(
    log: Database, public_key: Path
) -> None:
    _sql(log, "DELETE FROM tlog_tree_head WHERE tree_size = 100")
    code, lines = _verify(log, public_key)
    assert code == 1
    assert any(line.startswith("entries 90–99 not covered by a signed tree head") for line in lines)


def test_a_corrupted_signature_is_named(log: Database, public_key: Path) -> None:
    _sql(log, "UPDATE tlog_tree_head SET signature = :s WHERE tree_size = 30", s=b"\x01" * 64)
    code, lines = _verify(log, public_key)
    assert code == 1
    assert lines[:-1] == ["tree head at size 30 has a bad signature: it was forged or altered"]


def test_a_forged_root_fails_its_signature(log: Database, public_key: Path) -> None:
    _sql(log, "UPDATE tlog_tree_head SET root_hash = :r WHERE tree_size = 70", r=b"\x02" * 32)
    code, lines = _verify(log, public_key)
    assert code == 1
    assert "tree head at size 70 has a bad signature: it was forged or altered" in lines


def test_another_key_trusts_no_tree_head(log: Database, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_text(SigningKey.generate().public_pem())
    code, lines = _verify(log, other)
    assert code == 1
    assert f"tree head at size 10 is signed by key {SIGNER.key_id}, which is not a trusted key" in (
        lines
    )


def test_an_altered_tree_node_is_told_apart_from_altered_entries(
    log: Database, public_key: Path
) -> None:
    _sql(log, 'UPDATE tlog_node SET hash = :h WHERE level = 2 AND "index" = 3', h=b"\x03" * 32)
    code, lines = _verify(log, public_key)
    assert code == 1
    assert lines[:-1] == [
        "tree node (level 2, index 3) was altered: it no longer matches entries 12–15 below "
        "it, which still match the signed tree heads"
    ]


def test_json_report(log: Database, public_key: Path) -> None:
    _sql(log, 'DELETE FROM tlog_entry WHERE "index" IN (3, 4)')
    code, lines = _verify(log, public_key, "--json")
    assert code == 1
    report = json.loads("\n".join(lines))
    assert report["intact"] is False
    assert report["tree_size"] == 100
    assert report["findings"] == [
        {"sort": "missing", "message": "entries 3–4 are missing", "entries": [3, 4]}
    ]


def test_head_prove_consistency_and_export_commands(
    log: Database, public_key: Path, tmp_path: Path
) -> None:
    url = log.url
    head = runner.invoke(app, ["log", "head", "--database-url", url])
    assert head.exit_code == 0
    head_doc = json.loads(head.stdout)
    assert head_doc["tree_size"] == 100
    assert head_doc["key_id"] == SIGNER.key_id
    root = base64.b64decode(head_doc["root_hash"])

    proved = runner.invoke(app, ["log", "prove", "--index", "42", "--database-url", url])
    assert proved.exit_code == 0
    proof = json.loads(proved.stdout)
    path = [base64.b64decode(p) for p in proof["path"]]
    assert merkle.verify_inclusion(merkle.leaf_hash(b"entry-42"), 42, 100, path, root)

    missing = runner.invoke(
        app, ["log", "prove", "--index", "2", "--tree-size", "15", "--database-url", url]
    )
    assert missing.exit_code == 1

    consistent = runner.invoke(app, ["log", "consistency", "--first", "30", "--database-url", url])
    assert consistent.exit_code == 0
    document = json.loads(consistent.stdout)
    first_root = base64.b64decode(document["first_tree_head"]["root_hash"])
    path = [base64.b64decode(p) for p in document["path"]]
    assert merkle.verify_consistency(30, 100, first_root, root, path)

    out = tmp_path / "log.jsonl"
    exported = runner.invoke(app, ["log", "export", "--out", str(out), "--database-url", url])
    assert exported.exit_code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    entries = [line["entry"] for line in lines if "entry" in line]
    heads = [line["tree_head"] for line in lines if "tree_head" in line]
    assert [e["index"] for e in entries] == list(range(100))
    assert base64.b64decode(entries[42]["leaf_input"]) == b"entry-42"
    assert [h["tree_size"] for h in heads] == list(range(10, 101, 10))


def test_verify_uses_the_configured_key_and_refuses_to_guess(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from joinedup.core.keys import load_log_signing_key
    from joinedup.core.settings import Settings, get_settings

    monkeypatch.setenv("JOINEDUP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("JOINEDUP_LOG_SIGNING_KEY", raising=False)
    get_settings.cache_clear()
    try:
        args = ["log", "verify", "--database-url", database.url]
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2
        assert "--public-key" in refused.stderr

        signer = load_log_signing_key(Settings(environment="test", data_dir=tmp_path / "var"))
        with database.unit_of_work() as session:
            append(session, kind="test.record", leaf_inputs=[b"one", b"two"], signer=signer)
        verified = runner.invoke(app, args)
        assert verified.exit_code == 0, verified.stdout
        assert "intact: 2 entries, 1 signed tree head " in verified.stdout
    finally:
        get_settings.cache_clear()
