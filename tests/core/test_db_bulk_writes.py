"""Bulk writes at the driver (``update_rows``, ``insert_rows_sharing``) store what
SQLAlchemy's own statements would, on SQLite and PostgreSQL; a value the rows share is
converted once. (Written to entitlement revisions: a table with a JSON column, as the
re-evaluation writes them.)"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any, cast

import pytest
from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from joinedup.core.bulk_writes import update_rows
from joinedup.core.db import Database
from joinedup.proactive.models import Entitlement, EntitlementRevision

_REVISIONS = cast(Table, EntitlementRevision.__table__)
_COLUMNS = ("status", "amount", "period_start", "explanation", "recorded_at", "actor")
_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _entitlement(session: Session, code: str) -> int:
    row = Entitlement(
        uid=uuid.uuid4(),
        person_code=code,
        service_code="child-benefit",
        occasion="",
        owner_member_class="GOV",
        owner_member_code="70000001",
        delivery_mode="automatic",
        status="granted",
        amount=10_000,
        period_start=date(2026, 1, 1),
        period_end=None,
        life_event=None,
        regarding_code=None,
        reason="before",
        ruleset="demo",
        ruleset_version="1",
        variable="child_benefit",
        legal_basis="Act § 1",
        legal_basis_url=None,
        revision=1,
        created_at=_AT,
        updated_at=_AT,
        updated_by="test",
    )
    session.add(row)
    session.flush()
    return row.id


def _revision(session: Session, code: str) -> int:
    """A new entitlement's first revision (its id)."""
    row = EntitlementRevision(
        entitlement_id=_entitlement(session, code),
        revision=1,
        status="granted",
        amount=10_000,
        period_start=date(2026, 1, 1),
        period_end=None,
        reason="before",
        explanation={"before": True},
        ruleset_version="1",
        actor="test",
        acting_for=None,
        event_id=None,
        letter_reference=None,
        recorded_at=_AT,
    )
    session.add(row)
    session.flush()
    return row.id


def _stored(session: Session, ids: list[int]) -> list[tuple[Any, ...]]:
    r = EntitlementRevision
    return [
        tuple(row)
        for row in session.execute(
            select(r.status, r.amount, r.period_start, r.explanation, r.recorded_at, r.actor)
            .where(r.id.in_(ids))
            .order_by(r.id)
        )
    ]


def test_rows_are_updated_as_sqlalchemy_updates_them(database: Database) -> None:
    shared = {"law_version": "v2", "changes": ["a=1"]}
    at = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)
    with database.unit_of_work() as session:
        ours = [_revision(session, f"3900101000{i}") for i in range(3)]
        theirs = [_revision(session, f"3900102000{i}") for i in range(3)]
        values = [
            ("ended", 13_000, date(2026, 2, 1), shared, at, "proactive:reevaluation"),
            ("granted", None, date(2026, 3, 1), shared, at, "proactive:reevaluation"),
            ("offered", 7, date(2026, 4, 1), {"own": 1}, at, "proactive:reevaluation"),
        ]
        update_rows(
            session.connection(),
            _REVISIONS,
            _COLUMNS,
            [(*row, revision) for row, revision in zip(values, ours, strict=True)],
        )
        for row, revision in zip(values, theirs, strict=True):
            session.execute(
                update(EntitlementRevision)
                .where(EntitlementRevision.id == revision)
                .values(dict(zip(_COLUMNS, row, strict=True)))
            )
        session.expire_all()
        assert _stored(session, ours) == _stored(session, theirs)
        assert _stored(session, ours)[0][3] == shared
        assert _stored(session, ours)[1][4] == at


def test_a_value_the_rows_share_is_converted_once(
    sqlite_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    serialised: list[Any] = []
    column_type = _REVISIONS.c.explanation.type
    original = column_type._cached_bind_processor

    def counting(dialect: Any) -> Any:
        process = original(dialect)
        assert process is not None

        def counted(value: Any) -> Any:
            serialised.append(value)
            return process(value)

        return counted

    shared = {"law_version": "v2"}
    at = datetime(2026, 2, 1, tzinfo=UTC)
    with sqlite_database.unit_of_work() as session:
        ids = [_revision(session, f"3900103000{i}") for i in range(5)]
        monkeypatch.setattr(column_type, "_cached_bind_processor", counting)
        update_rows(
            session.connection(),
            _REVISIONS,
            ("explanation", "recorded_at"),
            [(shared, at, revision) for revision in ids],
        )
        assert serialised == [shared]
        explanations = session.scalars(
            select(EntitlementRevision.explanation).where(EntitlementRevision.id.in_(ids))
        ).all()
        assert explanations == [shared] * 5


def test_a_row_of_the_wrong_width_is_refused(sqlite_database: Database) -> None:
    with sqlite_database.unit_of_work() as session, pytest.raises(ValueError, match="values"):
        update_rows(session.connection(), _REVISIONS, ("status", "amount"), [("ended", 1)])


def test_rows_sharing_values_are_stored_as_whole_rows_are(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows than one statement takes (several statements), NULLs and every kind of value
    among the shared and the own values: stored as :func:`insert_rows` stores whole rows."""
    import joinedup.core.bulk_writes as db

    monkeypatch.setattr(db, "MAX_PARAMETERS", 60)
    at = datetime(2026, 2, 1, 12, 30, tzinfo=UTC)
    with database.unit_of_work() as session:
        entitlements = [_entitlement(session, f"390010{n}0000") for n in (4, 5)]
    shared: dict[str, Any] = {
        "status": "granted",
        "period_start": date(2026, 2, 1),
        "period_end": None,
        "reason": "law",
        "explanation": {"law_version": "v2", "changes": ["a=1"]},
        "ruleset_version": "2",
        "actor": "test",
        "acting_for": None,
        "event_id": None,
        "recorded_at": at,
    }
    own = ("entitlement_id", "revision", "amount", "letter_reference")

    def made(entitlement: int) -> list[tuple[Any, ...]]:
        return [
            (entitlement, i + 1, None if i % 3 == 0 else 100 * i, None if i % 2 else f"L-{i}")
            for i in range(25)
        ]

    sharing, whole = made(entitlements[0]), made(entitlements[1])
    with database.unit_of_work() as session:
        connection = session.connection()
        db.insert_rows_sharing(connection, _REVISIONS, shared, own, sharing)
        db.insert_rows(
            connection,
            _REVISIONS,
            (*own, *shared),
            [(*row, *shared.values()) for row in whole],
        )
    columns = [c for c in _REVISIONS.c if c.key not in {"id", "entitlement_id"}]
    with database.reading() as session:

        def stored(entitlement: int) -> list[tuple[Any, ...]]:
            return [
                tuple(row)
                for row in session.execute(
                    select(*columns)
                    .where(EntitlementRevision.entitlement_id == entitlement)
                    .order_by(EntitlementRevision.revision)
                )
            ]

        assert stored(entitlements[0]) == stored(entitlements[1])
        assert [row[columns.index(_REVISIONS.c.amount)] for row in stored(entitlements[0])] == [
            row[2] for row in sharing
        ]
        assert (
            stored(entitlements[0])[0][columns.index(_REVISIONS.c.explanation)]
            == (shared["explanation"])
        )


def test_json_columns_store_what_the_standard_library_would_read_back(
    database: Database,
) -> None:
    """A JSON column's text is orjson's where it can write the value: read back, it is the
    value stored; integer keys and integers beyond 64 bits (which orjson refuses) are stored
    as the standard library stores them; a date is refused, not stored as text silently."""
    from sqlalchemy.exc import StatementError

    from joinedup.core.db import json_text

    value: dict[str, Any] = {"é": [1, 2.5, None, True, "ünï"], "nested": {"a": {"b": []}}}
    big = {"n": 2**70, "by": {1: "one"}}
    with database.unit_of_work() as session:
        first = _revision(session, "38001010000")
        second = _revision(session, "38001010001")
        r = EntitlementRevision
        session.execute(update(r).where(r.id == first).values(explanation=value))
        session.execute(update(r).where(r.id == second).values(explanation=big))
    with database.reading() as session:
        r = EntitlementRevision
        stored = dict(session.execute(select(r.id, r.explanation)).all())
    assert stored[first] == value
    assert stored[second] == {"n": 2**70, "by": {"1": "one"}}
    assert json_text({"a": [1, None]}) == '{"a":[1,null]}'  # orjson's compact text

    def store_a_date() -> None:
        with database.unit_of_work() as session:
            _revision(session, "38001010002")
            session.execute(
                update(EntitlementRevision).values(explanation={"when": date(2026, 1, 1)})
            )

    with pytest.raises((StatementError, TypeError), match="not JSON serializable"):
        store_a_date()
    with database.reading() as session:  # the failed unit of work left nothing behind
        assert session.scalar(select(func.count()).select_from(EntitlementRevision)) == 2


def test_postgresql_takes_many_rows_as_one_short_statement_executed_many_times(
    database: Database,
) -> None:
    """psycopg finds a statement's placeholders by scanning its text, and remembers it only
    for short statements (at most 50 parameters): on PostgreSQL ``insert_rows`` sends one
    one-row statement with every row to ``executemany`` (one pipeline), on SQLite multi-row
    statements. Stored alike either way."""
    from sqlalchemy import event

    from joinedup.core.bulk_writes import insert_rows

    with database.unit_of_work() as session:
        entitlement = _entitlement(session, "39001050000")
    sent: list[tuple[str, bool]] = []

    def seen(_conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, many: bool) -> None:
        if statement.startswith("INSERT INTO"):
            sent.append((statement, many))

    columns = ("entitlement_id", "revision", "status", "amount", "period_start", "reason",
               "explanation", "ruleset_version", "actor", "recorded_at")  # fmt: skip
    rows = [
        (entitlement, n + 1, "granted", 100 * n, date(2026, 2, 1), "law", {"n": n}, "2", "t", _AT)
        for n in range(30)
    ]
    event.listen(database.engine, "before_cursor_execute", seen)
    try:
        with database.unit_of_work() as session:
            insert_rows(session.connection(), _REVISIONS, columns, rows)
    finally:
        event.remove(database.engine, "before_cursor_execute", seen)
    [(statement, many)] = sent
    groups = statement.count("(") - 1  # (the column list's own)
    if database.dialect == "postgresql":
        assert (groups, many) == (1, True)
    else:
        assert (groups, many) == (30, False)
    with database.reading() as session:
        r = EntitlementRevision
        stored = session.execute(
            select(r.revision, r.amount, r.explanation, r.recorded_at)
            .where(r.entitlement_id == entitlement)
            .order_by(r.revision)
        ).all()
    assert [tuple(row) for row in stored] == [(n + 1, 100 * n, {"n": n}, _AT) for n in range(30)]
