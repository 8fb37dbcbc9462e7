"""Fixtures of the proactive services' tests: every consumer and daily job registered, and a
seeded PostgreSQL database (cloned from the session's seeded template) for the NATS runs."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from joinedup import platform
from joinedup.core.db import Database

POSTGRES_URL = os.environ.get(
    "JOINEDUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

platform.handler_modules()  # registers the consumers (and the daily jobs) of every context


@pytest.fixture
def seeded_postgres(seeded_postgres_template: str) -> Iterator[Database]:
    name = f"joinedup_t_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{seeded_postgres_template}"'))
    database = Database(POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}", pool_size=4)
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
