"""Fixtures of the consent tests: one seeded country per module (SQLite and PostgreSQL), and a
session on it rolled back after each test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from consent_support import BACKENDS, own_database
from sqlalchemy.orm import Session

from joinedup.core.db import Database


@pytest.fixture(scope="module", params=BACKENDS)
def country(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
) -> Iterator[Database]:
    yield from own_database(request, tmp_path_factory.mktemp("consent"), sqlite_template)


@pytest.fixture
def tx(country: Database) -> Iterator[Session]:
    """A session on the module's country whose changes are rolled back after the test."""
    with country.engine.connect() as conn:
        transaction = conn.begin()
        with Session(
            bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False
        ) as session:
            yield session
        transaction.rollback()
