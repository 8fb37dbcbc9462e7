"""A small seeded country with the demo's exchange (the food bank's consent agreement and
right included), built once per test session on SQLite and on PostgreSQL and copied for each
test module, and helpers."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.demo import organisation
from joinedup.demo.exchange_setup import demo_client_credentials
from joinedup.demo.seed import seed_country

SEED = 2026
ACTOR = "consent-test"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def seed_small_country(database: Database) -> None:
    """A small seeded country with the demo's exchange (the food bank's agreement included)."""
    seed_country(database, persons=300, seed=SEED, progress=False, reference=date(2025, 6, 1))


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
