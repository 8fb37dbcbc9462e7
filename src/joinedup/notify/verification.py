"""The mailbox's letters and read receipts against the transparency log.

For every letter the verifier recomputes the canonical bytes and the leaf (and, once read, the
receipt's) and compares them with the log entry at the stored index; every log entry that is
a letter or a receipt (its tag is covered by the leaf hash) must have its letter. A letter
rewritten after it was sent — its text, its sender, its recipient, the time it was sent or
read — or deleted, is named. ``joinedup log verify`` runs this beside the core verifier.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Connection, Table, func, select

from joinedup.core.db import make_engine
from joinedup.core.translog.findings import MAX_LINES_PER_SORT, Finding
from joinedup.core.translog.models import LogEntry
from joinedup.notify.canonical import LETTER_TAG, RECEIPT_TAG, letter_leaf, receipt_leaf
from joinedup.notify.models import Letter

CHUNK = 5_000
_LEAF_SIZE = 8 + 16 + 32
_LETTERS: Table = Letter.__table__  # type: ignore[assignment]
_ENTRIES: Table = LogEntry.__table__  # type: ignore[assignment]


class _Collector:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.counts: dict[str, int] = {}

    def add(self, sort: str, message: str, index: int) -> None:
        self.counts[sort] = self.counts.get(sort, 0) + 1
        if self.counts[sort] <= MAX_LINES_PER_SORT:
            self.findings.append(Finding(sort, message, (index,)))

    def done(self) -> list[Finding]:
        for sort, count in self.counts.items():
            if count > MAX_LINES_PER_SORT:
                more = count - MAX_LINES_PER_SORT
                self.findings.append(Finding(sort, f"… {more} more not listed ({count} in all)"))
        return self.findings


def _check_letters(conn: Connection, found: _Collector) -> int:
    letter_entry, receipt_entry = _ENTRIES.alias("le"), _ENTRIES.alias("re")
    statement = (
        select(
            _LETTERS,
            letter_entry.c.leaf_input.label("_letter_leaf"),
            receipt_entry.c.leaf_input.label("_receipt_leaf"),
        )
        .outerjoin(letter_entry, letter_entry.c.index == _LETTERS.c.log_index)
        .outerjoin(receipt_entry, receipt_entry.c.index == _LETTERS.c.receipt_log_index)
        .order_by(_LETTERS.c.log_index)
    )
    rows = conn.execution_options(yield_per=CHUNK).execute(statement)
    count = 0
    try:
        for row in rows:
            count += 1
            values: dict[str, Any] = dict(row._mapping)
            index = values["log_index"]
            name = f"letter {values['message_id']} (log entry {index})"
            stored = values["_letter_leaf"]
            if stored is None:
                found.add(
                    "letter-unlogged", f"{name}: the transparency log has no such entry", index
                )
            elif letter_leaf(values) != bytes(stored):
                found.add(
                    "letter-rewritten",
                    f"{name} was rewritten: it no longer matches its transparency-log entry",
                    index,
                )
            receipt_index = values["receipt_log_index"]
            if values["read_at"] is None and receipt_index is None:
                continue
            receipt = values["_receipt_leaf"]
            if receipt_index is None or values["read_at"] is None or receipt is None:
                found.add(
                    "receipt-rewritten",
                    f"{name}: its read receipt does not match the transparency log",
                    index,
                )
            elif receipt_leaf(values) != bytes(receipt):
                found.add(
                    "receipt-rewritten",
                    f"{name}: its read receipt (log entry {receipt_index}) was rewritten",
                    receipt_index,
                )
    finally:
        rows.close()
    return count


def _check_deleted(conn: Connection, found: _Collector) -> None:
    by_letter, by_receipt = _LETTERS.alias("l"), _LETTERS.alias("r")
    # Entries of the right size that no letter claims; the tag (inside the leaf hash, unlike
    # the ``kind`` label) says whether it was a letter or a receipt.
    statement = (
        select(_ENTRIES.c.index, _ENTRIES.c.leaf_input)
        .outerjoin(by_letter, by_letter.c.log_index == _ENTRIES.c.index)
        .outerjoin(by_receipt, by_receipt.c.receipt_log_index == _ENTRIES.c.index)
        .where(
            by_letter.c.id.is_(None),
            by_receipt.c.id.is_(None),
            func.length(_ENTRIES.c.leaf_input) == _LEAF_SIZE,
        )
        .order_by(_ENTRIES.c.index)
    )
    rows = conn.execution_options(yield_per=CHUNK).execute(statement)
    try:
        for index, leaf_input in rows:
            leaf = bytes(leaf_input)
            if leaf[:8] not in (LETTER_TAG, RECEIPT_TAG):
                continue
            what = "letter" if leaf[:8] == LETTER_TAG else "read receipt of letter"
            found.add(
                "letter-deleted",
                f"{what} {uuid.UUID(bytes=leaf[8:24])} (log entry {index}) was deleted: the "
                "transparency log holds it but the database does not",
                index,
            )
    finally:
        rows.close()


def verify_letters_connection(conn: Connection) -> tuple[int, list[Finding]]:
    """``(letters checked, findings)`` over ``conn``."""
    found = _Collector()
    checked = _check_letters(conn, found)
    _check_deleted(conn, found)
    return checked, found.done()


def verify_letters(database_url: str) -> tuple[int, list[Finding]]:
    """Check the mailbox's letters in the database at ``database_url``, read-only."""
    engine = make_engine(database_url, readonly=True, pool_size=1)
    try:
        options: dict[str, Any] = {}
        if engine.dialect.name == "postgresql":
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with engine.connect().execution_options(**options) as conn, conn.begin():
            return verify_letters_connection(conn)
    finally:
        engine.dispose()
