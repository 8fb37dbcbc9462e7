"""Fixtures of the consent tests: one seeded country per module (SQLite and PostgreSQL, a copy
of the session's template), and a session on it rolled back after each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from consent_support import BACKENDS, seed_small_country
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from template_support import DatabaseTemplates


@pytest.fixture(scope="module", params=BACKENDS)
def country(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    database_templates: DatabaseTemplates,
) -> Iterator[Database]:
    template = database_templates.template(request.param, seed_small_country)
    with database_templates.copy(template, tmp_path_factory.mktemp("consent")) as database:
        yield database


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
