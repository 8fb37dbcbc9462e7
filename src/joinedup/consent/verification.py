"""Every consent revision against the transparency log: rewritten or deleted ones, named.

The per-record check (:func:`joinedup.consent.verify_consent_chain`) serves one person's
history; this one sweeps the whole register for ``joinedup log verify``: for every revision it
recomputes the canonical bytes, the hash chain and the leaf input and compares them with the
log entry at the revision's ``log_index``; every log entry tagged as a consent revision must
still have its row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, select

from joinedup.consent.chain import (
    LEAF_SIZE,
    leaf_revision_id,
    revision_canonical,
    revision_leaf,
    sha256,
)
from joinedup.consent.models import ConsentRecord, ConsentRevision, DataAgreement
from joinedup.core.db import make_engine
from joinedup.core.translog.findings import MAX_LINES_PER_SORT, Finding
from joinedup.core.translog.models import LogEntry

CHUNK = 5_000
_REVISIONS: Table = ConsentRevision.__table__  # type: ignore[assignment]
_RECORDS: Table = ConsentRecord.__table__  # type: ignore[assignment]
_AGREEMENTS: Table = DataAgreement.__table__  # type: ignore[assignment]
_ENTRIES: Table = LogEntry.__table__  # type: ignore[assignment]


class _Found:
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


def _check_revisions(conn: Connection, found: _Found) -> int:
    r, c, a, e = _REVISIONS.c, _RECORDS.c, _AGREEMENTS.c, _ENTRIES.c
    statement = (
        select(
            _REVISIONS,
            c.record_id.label("consent_record_id"),
            c.subject_code,
            a.agreement_id,
            e.leaf_input.label("_stored_leaf"),
        )
        .join(_RECORDS, c.id == r.record_ref)
        .join(_AGREEMENTS, a.id == c.agreement_ref)
        .outerjoin(_ENTRIES, e.index == r.log_index)
        .order_by(r.record_ref, r.seq)
    )
    rows = conn.execute(statement, execution_options={"yield_per": CHUNK})
    count = 0
    previous: dict[str, Any] | None = None
    try:
        for row in rows:
            count += 1
            values: dict[str, Any] = dict(row._mapping)
            index = values["log_index"]
            name = f"consent revision {values['revision_id']} (log entry {index})"
            computed = sha256(revision_canonical(values))
            first = previous is None or previous["record_ref"] != values["record_ref"]
            wanted = None if first or previous is None else previous["serialized_hash"]
            if values["_stored_leaf"] is None:
                found.add(
                    "record-unlogged", f"{name}: the transparency log has no such entry", index
                )
            elif revision_leaf(values["revision_id"], computed) != values["_stored_leaf"]:
                found.add(
                    "record-rewritten",
                    f"{name} was rewritten: it no longer matches its transparency-log entry",
                    index,
                )
            if values["predecessor_hash"] != wanted or (first and values["seq"] != 1):
                found.add(
                    "record-rewritten",
                    f"{name}: its consent record's hash chain is broken before it",
                    index,
                )
            previous = values
    finally:
        rows.close()
    return count


def _check_deleted(conn: Connection, found: _Found) -> None:
    statement = (
        select(_ENTRIES.c.index, _ENTRIES.c.leaf_input)
        .outerjoin(_REVISIONS, _REVISIONS.c.log_index == _ENTRIES.c.index)
        .where(_REVISIONS.c.id.is_(None), func.length(_ENTRIES.c.leaf_input) == LEAF_SIZE)
        .order_by(_ENTRIES.c.index)
    )
    rows = conn.execute(statement, execution_options={"yield_per": CHUNK})
    try:
        for index, leaf_input in rows:
            revision_id = leaf_revision_id(bytes(leaf_input))
            if revision_id is None:
                continue
            found.add(
                "record-deleted",
                f"consent revision {revision_id} (log entry {index}) was deleted: the "
                "transparency log holds it but the database does not",
                index,
            )
    finally:
        rows.close()


def verify_consent_connection(conn: Connection) -> tuple[int, list[Finding]]:
    """``(revisions checked, findings)`` over ``conn``."""
    found = _Found()
    checked = _check_revisions(conn, found)
    _check_deleted(conn, found)
    return checked, found.done()


def verify_consent_revisions(database_url: str) -> tuple[int, list[Finding]]:
    """Check every consent revision in the database at ``database_url``, read-only."""
    engine = make_engine(database_url, readonly=True, pool_size=1)
    try:
        options: dict[str, Any] = {}
        if engine.dialect.name == "postgresql":
            options = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        with engine.connect().execution_options(**options) as conn, conn.begin():
            return verify_consent_connection(conn)
    finally:
        engine.dispose()
