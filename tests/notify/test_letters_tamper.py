"""A letter or read receipt rewritten or deleted after the fact is named by `joinedup log
verify` (the mailbox's proof of delivery)."""

from __future__ import annotations

import json

import pytest
from notify_support import ACTOR, Country
from sqlalchemy import text
from typer.testing import CliRunner

from joinedup import notify
from joinedup.cli import app
from joinedup.core.db import Database
from joinedup.notify.verification import verify_letters


def _sent_and_read(database: Database, country: Country) -> str:
    with database.unit_of_work() as session:
        letters = [
            notify.send_letter(
                session,
                recipient_code=country.person,
                sender=country.social,
                kind="decision",
                subject=f"Decision {n}",
                paragraphs=["You are entitled."],
                reference=f"d{n}",
                actor=ACTOR,
            )
            for n in range(3)
        ]
        notify.open_letter(
            session,
            message_id=letters[1].message_id,
            recipient_code=country.person,
            reader_code=country.person,
        )
    return str(letters[1].message_id)


def _sorts(database: Database) -> list[str]:
    checked, findings = verify_letters(database.url)
    assert checked >= 2
    return sorted({finding.sort for finding in findings})


def test_intact_letters_verify(database: Database, country: Country) -> None:
    _sent_and_read(database, country)
    assert _sorts(database) == []


@pytest.mark.parametrize(
    ("statement", "sort"),
    [
        ("UPDATE notify_letter SET subject = 'Refused' WHERE reference = 'd0'", "letter-rewritten"),
        (
            "UPDATE notify_letter SET paragraphs = '[\"You are not entitled.\"]' "
            "WHERE reference = 'd2'",
            "letter-rewritten",
        ),
        ("DELETE FROM notify_letter WHERE reference = 'd0'", "letter-deleted"),
        (
            "UPDATE notify_letter SET read_by = '38001010008' WHERE reference = 'd1'",
            "receipt-rewritten",
        ),
        (
            "UPDATE notify_letter SET read_at = NULL, receipt_log_index = NULL "
            "WHERE reference = 'd1'",
            "letter-deleted",  # the receipt's entry no longer has its letter
        ),
    ],
)
def test_tampering_is_named(
    database: Database, country: Country, statement: str, sort: str
) -> None:
    _sent_and_read(database, country)
    with database.engine.begin() as conn:
        conn.execute(text(statement))
    assert sort in _sorts(database)


def test_log_verify_names_a_rewritten_letter(database: Database, country: Country) -> None:
    _sent_and_read(database, country)
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE notify_letter SET subject = 'Refused' WHERE reference = 'd0'"))
    result = CliRunner().invoke(app, ["log", "verify", "--database-url", database.url, "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["letters"] == 3
    assert any(f["sort"] == "letter-rewritten" for f in report["findings"])
