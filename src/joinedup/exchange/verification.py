"""The exchange's records against the transparency log: rewritten or deleted rows, named.

The core verifier proves the log itself intact; this one proves the stored message-log and
data-usage rows are the ones the log fixed. For every row it recomputes the canonical bytes
and the leaf input (:mod:`joinedup.exchange.canonical`) and compares them with the log entry
at the row's ``log_index``; stored bodies must match their hashes. Every log entry whose leaf
input is an exchange record (its tag is covered by the leaf hash, unlike ``kind``) must have
its row. ``joinedup log verify`` runs both verifiers over one database.
"""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, Table, func, select

from joinedup.core.db import make_engine
from joinedup.core.translog.findings import MAX_LINES_PER_SORT, Finding
from joinedup.core.translog.models import LogEntry
from joinedup.exchange.canonical import (
    LEAF_SIZE,
    MESSAGE_TAG,
    leaf_record_id,
    message_leaf,
    usage_leaf,
)
from joinedup.exchange.records import DataUsageRecord, MessageLogRecord

CHUNK = 5_000
_MESSAGES: Table = MessageLogRecord.__table__  # type: ignore[assignment]
_USAGES: Table = DataUsageRecord.__table__  # type: ignore[assignment]
_ENTRIES: Table = LogEntry.__table__  # type: ignore[assignment]


class _Collector:
    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.counts: dict[str, int] = {}

    def add(self, sort: str, message: str, index: int) -> None:
        count = self.counts.get(sort, 0) + 1
        self.counts[sort] = count
        if count <= MAX_LINES_PER_SORT:
            self.findings.append(Finding(sort, message, (index,)))

    def done(self) -> list[Finding]:
        for sort, count in self.counts.items():
            if count > MAX_LINES_PER_SORT:
                self.findings.append(
                    Finding(
                        sort, f"… {count - MAX_LINES_PER_SORT} more not listed ({count} in all)"
                    )
                )
        return self.findings


def _check_rows(conn: Connection, found: _Collector, *, usage: bool) -> int:
    table = _USAGES if usage else _MESSAGES
    what = "data usage record" if usage else "message-log record"
    leaf_of = usage_leaf if usage else message_leaf
    statement = (
        select(table, _ENTRIES.c.leaf_input.label("_stored_leaf"))
        .outerjoin(_ENTRIES, _ENTRIES.c.index == table.c.log_index)
        .order_by(table.c.log_index)
    )
    rows = conn.execution_options(yield_per=CHUNK).execute(statement)
    count = 0
    try:
        for row in rows:
            count += 1
            values: dict[str, Any] = dict(row._mapping)
            index = values["log_index"]
            name = f"{what} {values['record_id']} (log entry {index})"
            stored = values["_stored_leaf"]
            if stored is None:
                found.add(
                    "record-unlogged", f"{name}: the transparency log has no such entry", index
                )
            elif leaf_of(values) != stored:
                found.add(
                    "record-rewritten",
                    f"{name} was rewritten: it no longer matches its transparency-log entry",
                    index,
                )
            if not usage:
                for body in ("request", "response"):
                    stored_body = values[f"{body}_body"]
                    wanted = values[f"{body}_body_hash"]
                    if stored_body is not None and hashlib.sha512(stored_body).digest() != wanted:
                        found.add(
                            "record-rewritten",
                            f"{name}: its stored {body} body was rewritten",
                            index,
                        )
    finally:
        rows.close()
    return count


def _check_deleted(conn: Connection, found: _Collector) -> None:
    messages, usages = _MESSAGES.alias("m"), _USAGES.alias("u")
    statement = (
        select(_ENTRIES.c.index, _ENTRIES.c.leaf_input)
        .outerjoin(messages, messages.c.log_index == _ENTRIES.c.index)
        .outerjoin(usages, usages.c.log_index == _ENTRIES.c.index)
        .where(
            messages.c.id.is_(None),
            usages.c.id.is_(None),
            func.length(_ENTRIES.c.leaf_input) == LEAF_SIZE,
        )
        .order_by(_ENTRIES.c.index)
    )
    rows = conn.execution_options(yield_per=CHUNK).execute(statement)
    try:
        for index, leaf_input in rows:
            parsed = leaf_record_id(bytes(leaf_input))
            if parsed is None:
                continue
            tag, record_id = parsed
            what = "message-log record" if tag == MESSAGE_TAG else "data usage record"
            found.add(
                "record-deleted",
                f"{what} {record_id} (log entry {index}) was deleted: the transparency log "
                "holds it but the database does not",
                index,
            )
    finally:
        rows.close()


def verify_records_connection(conn: Connection) -> tuple[int, list[Finding]]:
    """``(records checked, findings)`` over ``conn`` (one snapshot is the caller's job)."""
    found = _Collector()
    checked = _check_rows(conn, found, usage=False) + _check_rows(conn, found, usage=True)
    _check_deleted(conn, found)
    return checked, found.done()


def verify_exchange_records(database_url: str) -> tuple[int, list[Finding]]:
    """Check the exchange's records in the database at ``database_url``, read-only."""
    engine = make_engine(database_url, readonly=True, pool_size=1)
    try:
        options: dict[str, Any] = {}
        if engine.dialect.name == "postgresql":
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with engine.connect().execution_options(**options) as conn, conn.begin():
            return verify_records_connection(conn)
    finally:
        engine.dispose()
