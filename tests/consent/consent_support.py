"""A small seeded country with the demo's exchange (the food bank's consent agreement and
right included), one per test module on SQLite and on PostgreSQL, and helpers."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.demo import organisation
from joinedup.demo.exchange_setup import demo_client_credentials
from joinedup.demo.seed import seed_country
from joinedup.migrations import upgrade

SEED = 2026
ACTOR = "consent-test"
POSTGRES_URL = os.environ.get(
    "JOINEDUP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def own_database(request: pytest.FixtureRequest, tmp: Path, template: Path) -> Iterator[Database]:
    """A migrated database that belongs to one test module, seeded with a small country."""
    if request.param == "sqlite":
        path = tmp / "consent.db"
        shutil.copyfile(template, path)
        db = Database(f"sqlite:///{path}")
        seed_country(db, persons=300, seed=SEED, progress=False, reference=date(2025, 6, 1))
        yield db
        db.dispose()
        return
    request.getfixturevalue("postgres_url")  # skips, or fails in CI, without a server
    name = f"joinedup_consent_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        upgrade(url)
        db = Database(url, pool_size=4)
        seed_country(db, persons=300, seed=SEED, progress=False, reference=date(2025, 6, 1))
        yield db
        db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def member(key: str) -> str:
    """``CLASS/CODE`` of a demo organisation."""
    org = organisation(key)
    return f"{org.member_class}/{org.member_code}"


def subsystem(key: str, code: str) -> str:
    return f"{member(key)}/{code}"


def service(key: str, code: str, service_code: str) -> str:
    return f"{subsystem(key, code)}/{service_code}"


def credentials(key: str) -> tuple[str, str]:
    return demo_client_credentials(SEED, key)


def living_adults(session: Session, count: int, *, offset: int = 0) -> list[str]:
    """Personal codes of living adults with a residence (stable order)."""
    rows = session.execute(
        text(
            "SELECT p.personal_code FROM person p "
            "WHERE p.date_of_death IS NULL AND p.birth_date < :born_before "
            "AND EXISTS (SELECT 1 FROM residence r WHERE r.person_id = p.id "
            "AND r.superseded_at IS NULL AND r.valid_to IS NULL) "
            "ORDER BY p.id LIMIT :count OFFSET :offset"
        ),
        {"born_before": date(2000, 1, 1), "count": count, "offset": offset},
    )
    found = [row[0] for row in rows]
    assert len(found) == count
    return found
