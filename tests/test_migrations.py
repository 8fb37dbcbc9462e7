from __future__ import annotations

import json
import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, inspect, select, text

from joinedup.core.db import Base, Database
from joinedup.migrations import alembic_config, check, current_heads, upgrade
from joinedup.proactive.models import Entitlement


def test_models_and_migrations_do_not_drift(database: Database) -> None:
    """``alembic check`` on SQLite and PostgreSQL: every model change has its migration."""
    check(database.url)


def test_one_head() -> None:
    assert len(current_heads()) == 1


def test_every_table_is_migrated(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_database: Database) -> None:
    with sqlite_database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_an_entitlements_explanation_moves_to_its_revision_and_back(tmp_path: Path) -> None:
    """0019: the entitlement's explanation is its current revision's (dropped from the
    entitlement's row, which held the same); downgraded, the column is filled from it."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0018")
    engine = create_engine(url)
    first, second = {"sentences": ["first"]}, {"sentences": ["second"]}
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO proactive_entitlement (id, uid, person_code, service_code, "
                    "occasion, owner_member_class, owner_member_code, delivery_mode, status, "
                    "amount, period_start, reason, explanation, ruleset, ruleset_version, "
                    "variable, legal_basis, revision, created_at, updated_at, updated_by) "
                    "VALUES (1, :uid, '38001010000', 'child-benefit', '', 'GOV', '70000001', "
                    "'automatic', 'granted', 100, '2026-01-01', 'r', :second, 'demo', '1', "
                    "'child_benefit', 'law', 2, '2026-01-01', '2026-01-01', 'proactive')"
                ),
                {"uid": uuid.uuid4().hex, "second": json.dumps(second)},
            )
            for number, explanation in ((1, first), (2, second)):
                conn.execute(
                    text(
                        "INSERT INTO proactive_entitlement_revision (entitlement_id, revision, "
                        "status, amount, period_start, reason, explanation, ruleset_version, "
                        "actor, recorded_at) VALUES (1, :n, 'granted', 100, '2026-01-01', 'r', "
                        ":e, '1', 'proactive', '2026-01-01')"
                    ),
                    {"n": number, "e": json.dumps(explanation)},
                )
        upgrade(url)
        database = Database(url)
        try:
            with database.reading() as session:
                assert session.scalars(select(Entitlement.explanation)).one() == second
        finally:
            database.dispose()
        command.downgrade(alembic_config(url), "0018")
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT explanation FROM proactive_entitlement")).scalar()
            assert json.loads(stored) == second
    finally:
        engine.dispose()
