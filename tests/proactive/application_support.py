"""Helpers of the online application tests: a low-income resident, their municipality's
housing support, and what an application leaves behind."""

from __future__ import annotations

from typing import Any

from proactive_support import low_income_adults
from sqlalchemy import text

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.exchange.registry_answers import residence_municipality


def housing_support_of(database: Database, person: str) -> str:
    """The code of the housing support of the municipality ``person`` lives in."""
    with database.reading() as session:
        municipality = residence_municipality(session, person, today())
    assert municipality is not None
    return f"housing-support-{municipality}"


def applicant(database: Database) -> tuple[str, str]:
    """A resident adult with no income in the register, and their housing support."""
    (person,) = low_income_adults(database, sex="F", count=1)
    return person, housing_support_of(database, person)


def count(database: Database, table: str, **where: Any) -> int:
    clause = " AND ".join(f"{name} = :{name}" for name in where) or "1 = 1"
    with database.reading() as session:
        return int(
            session.execute(
                text(f"SELECT count(*) FROM {table} WHERE {clause}"), where
            ).scalar_one()
        )


def traces(database: Database, person: str) -> dict[str, int]:
    """How many rows an application for ``person`` could have written, table by table."""
    return {
        "applications": count(database, "proactive_application", person_code=person),
        "entitlements": count(database, "proactive_entitlement", person_code=person),
        "letters": count(database, "notify_letter", recipient_code=person),
        "usage": count(database, "exchange_data_usage", subject_code=person),
    }
