"""Tampering with stored exchange records: ``joinedup log verify`` exits 1 naming the entry."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from records_support import recording, verify_cli
from sqlalchemy import text

from joinedup.core.db import Database
from joinedup.core.keys import SigningKey
from joinedup.exchange.recorder import Recording, write_recordings

LOG_KEY = SigningKey.generate()


@pytest.fixture
def recorded(database: Database) -> list[Recording]:
    """Three calls (two subjects each), each in its own batch: 9 log entries."""
    done = []
    for call in range(3):
        hidden = date(2030, 1, 1) if call == 1 else None  # the second: law enforcement
        one = recording(
            subjects=("39001010008", "51501010002"), log_bodies=True, hidden_until=hidden
        )
        with database.unit_of_work() as session:
            write_recordings(session, [one], signer=LOG_KEY)
        done.append(one)
    return done


def _sql(database: Database, statement: str, **params: object) -> None:
    with database.engine.begin() as conn:
        assert conn.execute(text(statement), params).rowcount == 1


def test_untouched_records_verify(
    database: Database, recorded: list[Recording], tmp_path: Path
) -> None:
    code, lines = verify_cli(database, LOG_KEY, tmp_path)
    assert code == 0, lines
    assert lines[-1] == "exchange records intact: 9 message-log and data-usage records"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("purpose", "marketing"),
        ("fields", "birthDate,familyName"),
        ("receiver_member_code", "70000000"),
        ("hidden_until", None),  # lifting a law-enforcement hiding silently
    ],
)
def test_a_rewritten_usage_row_is_named(
    database: Database, recorded: list[Recording], tmp_path: Path, column: str, value: object
) -> None:
    usage = recorded[1].usages[0]
    _sql(
        database,
        f"UPDATE exchange_data_usage SET {column} = :v WHERE log_index = :i",
        v=value,
        i=usage["log_index"],
    )
    code, lines = verify_cli(database, LOG_KEY, tmp_path)
    assert code == 1
    assert (
        f"data usage record {usage['record_id']} (log entry {usage['log_index']}) was "
        "rewritten: it no longer matches its transparency-log entry"
    ) in lines
    assert "transparency log intact" in lines[-2]  # the log itself is untouched
    assert lines[-1].startswith("exchange records NOT intact: 1 finding(s)")


def test_a_deleted_usage_row_is_named(
    database: Database, recorded: list[Recording], tmp_path: Path
) -> None:
    usage = recorded[2].usages[1]
    _sql(database, "DELETE FROM exchange_data_usage WHERE log_index = :i", i=usage["log_index"])
    code, lines = verify_cli(database, LOG_KEY, tmp_path)
    assert code == 1
    assert (
        f"data usage record {usage['record_id']} (log entry {usage['log_index']}) was deleted: "
        "the transparency log holds it but the database does not"
    ) in lines


def test_a_rewritten_message_row_is_named(
    database: Database, recorded: list[Recording], tmp_path: Path
) -> None:
    assert recorded[0].message is not None
    message = recorded[0].message.row
    _sql(
        database,
        "UPDATE exchange_message SET status = 403 WHERE log_index = :i",
        i=message["log_index"],
    )
    code, lines = verify_cli(database, LOG_KEY, tmp_path)
    assert code == 1
    assert (
        f"message-log record {message['record_id']} (log entry {message['log_index']}) was "
        "rewritten: it no longer matches its transparency-log entry"
    ) in lines


def test_a_rewritten_stored_body_is_named(
    database: Database, recorded: list[Recording], tmp_path: Path
) -> None:
    assert recorded[1].message is not None
    message = recorded[1].message.row
    _sql(
        database,
        "UPDATE exchange_message SET response_body = :b WHERE log_index = :i",
        b=b'{"birthDate":"1991-01-01"}',
        i=message["log_index"],
    )
    code, lines = verify_cli(database, LOG_KEY, tmp_path)
    assert code == 1
    assert (
        f"message-log record {message['record_id']} (log entry {message['log_index']}): its "
        "stored response body was rewritten"
    ) in lines


def test_a_deleted_message_row_is_named(
    database: Database, recorded: list[Recording], tmp_path: Path
) -> None:
    assert recorded[2].message is not None
    message = recorded[2].message.row
    _sql(database, "DELETE FROM exchange_message WHERE log_index = :i", i=message["log_index"])
    code, lines = verify_cli(database, LOG_KEY, tmp_path)
    assert code == 1
    assert (
        f"message-log record {message['record_id']} (log entry {message['log_index']}) was "
        "deleted: the transparency log holds it but the database does not"
    ) in lines


def test_a_forged_signature_is_named(
    database: Database, recorded: list[Recording], tmp_path: Path
) -> None:
    assert recorded[0].message is not None
    message = recorded[0].message.row
    _sql(
        database,
        "UPDATE exchange_message SET client_signature = :s WHERE log_index = :i",
        s=bytes(64),
        i=message["log_index"],
    )
    code, lines = verify_cli(database, LOG_KEY, tmp_path)
    assert code == 1
    assert any(f"(log entry {message['log_index']}) was rewritten" in line for line in lines)
