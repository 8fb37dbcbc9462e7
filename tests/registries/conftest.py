"""Fixtures for the registries tests: a session (SQLite and PostgreSQL) with a small country."""

from __future__ import annotations

import pytest
from registries_support import Country, make_country
from sqlalchemy.orm import Session


@pytest.fixture
def country(session: Session) -> Country:
    return make_country(session)
