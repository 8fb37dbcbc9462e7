"""Fixtures for the mailbox's tests: the small demo country, fresh for each test."""

from __future__ import annotations

import pytest
from notify_support import Country, country_of

from joinedup.core.db import Database


@pytest.fixture
def database(seeded_database: Database) -> Database:
    return seeded_database


@pytest.fixture
def country(database: Database) -> Country:
    return country_of(database)
