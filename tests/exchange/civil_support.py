"""Calling the population register's civil-registration services as the demo's registrar,
and looking at what they wrote."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text

from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.demo import organisation
from joinedup.demo.exchange_setup import demo_client_credentials
from joinedup.exchange import issue_access_token
from joinedup.web import create_app

SEED = 2026  # the seed of rights_support's demo_country
INSTANCE = "JOINEDUP"
POPULATION = organisation("population-register")
REGISTRAR = f"GOV/{POPULATION.member_code}/civil-registration"
PURPOSE = "civil-registration"
#: Tables a registration may write: a refused one must leave every count unchanged.
WRITTEN = (
    "person",
    "person_name",
    "relation",
    "residence",
    "address",
    "outbox_event",
    "exchange_write_request",
)


def service(code: str) -> str:
    return f"GOV/{POPULATION.member_code}/population/{code}"


def url(code: str) -> str:
    return f"/r1/{INSTANCE}/{service(code)}"


@contextmanager
def running(settings: Settings, database: Database) -> Iterator[TestClient]:
    with TestClient(create_app(settings, database=database)) as client:
        yield client


def bearer(database: Database, key: str = "population-register/civil-registration") -> str:
    client_id, secret = demo_client_credentials(SEED, key)
    with database.unit_of_work() as session:
        return issue_access_token(session, client_id=client_id, client_secret=secret).access_token


def headers(token: str, *, client: str = REGISTRAR, purpose: str = PURPOSE) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "X-Road-Client": f"{INSTANCE}/{client}",
        "X-Road-Purpose": purpose,
    }


def counts(database: Database) -> dict[str, int]:
    with database.reading() as session:
        return {t: int(session.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in WRITTEN}


def people(database: Database, *, sex: str, count: int, offset: int = 0) -> list[str]:
    """Living, unmarried adults of one sex with a residence (born 1970–1995), stable order."""
    with database.reading() as session:
        rows = session.execute(
            text(
                "SELECT p.personal_code FROM person p WHERE p.sex = :sex "
                "AND p.date_of_death IS NULL AND p.birth_date BETWEEN :first AND :last "
                "AND EXISTS (SELECT 1 FROM residence r WHERE r.person_id = p.id "
                "AND r.superseded_at IS NULL AND r.valid_to IS NULL) "
                "AND NOT EXISTS (SELECT 1 FROM relation u WHERE u.kind IN ('spouse', 'partner') "
                "AND (u.person_id = p.id OR u.related_person_id = p.id)) "
                "ORDER BY p.id LIMIT :count OFFSET :offset"
            ),
            {
                "sex": sex,
                "first": date(1970, 1, 1),
                "last": date(1995, 12, 31),
                "count": count,
                "offset": offset,
            },
        )
        found = [row[0] for row in rows]
    assert len(found) == count
    return found


def birth(reference: str, mother: str, father: str | None = None, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "reference": reference,
        "givenNames": "Mari",
        "familyName": "Tamm",
        "birthDate": "2025-05-20",
        "sex": "F",
        "birthPlace": "Joinville",
        "parents": [mother, *([father] if father else [])],
    }
    body.update(changes)
    return body
