from __future__ import annotations

from sqlalchemy import inspect

from joinedup.core.db import Base, Database
from joinedup.migrations import check, current_heads


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
