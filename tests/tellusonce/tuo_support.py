"""Tell Us Once in the seeded demo country: a married couple, a death registered through the
civil-registration entry point, and what the agencies' systems did."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.demo import organisation
from joinedup.demo.agency_systems import AgencyStore, store_path
from joinedup.exchange import exchange_client

POPULATION = organisation("population-register")
REGISTRAR = f"GOV/{POPULATION.member_code}/civil-registration"
RECORD_DEATH = f"GOV/{POPULATION.member_code}/population/record-death"
RECORD_MOVE = f"GOV/{POPULATION.member_code}/population/record-move"
#: Agencies told of every death in the demo (plus the municipality of residence).
NATIONAL = ("social-insurance", "vehicle-registry", "passport-office", "health-fund")
SIB = organisation("social-insurance")
#: The social insurance board's notice service: the pension agency's own system.
PENSION_SERVICE = f"GOV/{SIB.member_code}/benefits/life-events"


def tuo_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "data_dir": data_dir,
        "log_format": "console",
        "bus_retry_delay": 0.05,
        "tell_us_once_retry_delay": 0.02,
        "tell_us_once_max_attempts": 3,
        "tell_us_once_lease_seconds": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass(frozen=True)
class Couple:
    deceased: str
    spouse: str
    municipality_key: str  # the organisation key of the deceased's municipality


def married_couples(database: Database, count: int = 1) -> list[Couple]:
    """Living married couples where both have a residence (stable order)."""
    with database.reading() as session:
        rows = session.execute(
            text(
                "SELECT a.personal_code, b.personal_code, m.code "
                "FROM relation r JOIN person a ON a.id = r.person_id "
                "JOIN person b ON b.id = r.related_person_id "
                "JOIN residence re ON re.person_id = a.id AND re.superseded_at IS NULL "
                "AND re.valid_to IS NULL JOIN address ad ON ad.id = re.address_id "
                "JOIN municipality m ON m.id = ad.municipality_id "
                "WHERE r.kind = 'spouse' AND r.valid_to IS NULL AND r.superseded_at IS NULL "
                "AND a.date_of_death IS NULL AND b.date_of_death IS NULL "
                "ORDER BY r.id LIMIT :count"
            ),
            {"count": count},
        ).all()
    assert len(rows) == count
    return [Couple(a, b, f"municipality-{m}") for a, b, m in rows]


def record_death(
    database: Database, personal_code: str, reference: str, on: date | None = None
) -> None:
    """Register a death through the population register's ``record-death`` write service, as
    the registrars' system (the civil-registration entry point, in process)."""
    with database.unit_of_work() as session, exchange_client(session, client=REGISTRAR) as calls:
        calls.write(
            RECORD_DEATH,
            purpose="civil-registration",
            body={
                "reference": reference,
                "personalCode": personal_code,
                "dateOfDeath": (on or today()).isoformat(),
            },
        )


def store(settings: Settings) -> AgencyStore:
    return AgencyStore(store_path(settings))


def wait_until(condition: Callable[[], bool], *, timeout: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what}")
        time.sleep(0.05)


def scalar(database: Database, sql: str, **params: Any) -> Any:
    with database.reading() as session:
        return session.execute(text(sql), params).scalar()


def rows(database: Database, sql: str, **params: Any) -> list[Any]:
    with database.reading() as session:
        return list(session.execute(text(sql), params).all())


def letters_to(database: Database, code: str) -> list[Any]:
    return rows(
        database,
        "SELECT subject, paragraphs, reference, sender_member_code FROM notify_letter "
        "WHERE recipient_code = :code AND reference LIKE 'tell-us-once/%' ORDER BY id",
        code=code,
    )


def completed(database: Database) -> int:
    return int(
        scalar(database, "SELECT count(*) FROM tellusonce_life_event WHERE status = 'completed'")
    )


def take_in_deaths(database: Database) -> int:
    """Run the ``tellusonce.death`` consumer on every death event in the outbox (as a worker
    would, inbox included); returns how many it handled for the first time."""
    return take_in(database, "tellusonce.death", "population.death_registered.v1")


def take_in(database: Database, consumer_name: str, event_name: str) -> int:
    """Run the consumer on every ``event_name`` event in the outbox."""
    import joinedup.tellusonce.handlers  # noqa: F401 (registers the consumer)
    from joinedup.core.consumers import registry
    from joinedup.core.events import Delivered
    from joinedup.core.handling import apply_event
    from joinedup.core.outbox import OutboxEvent

    handled = 0
    consumer = registry.get(consumer_name)
    with database.reading() as session:
        events = [
            Delivered.of(row, stream_seq=row.id)
            for row in session.scalars(
                select(OutboxEvent).where(OutboxEvent.name == event_name).order_by(OutboxEvent.id)
            )
        ]
    for delivered in events:
        handled += apply_event(database, consumer, delivered)
    return handled


async def drain(dispatcher: Any, http: Any, database: Database, *, timeout: float = 20.0) -> None:
    """Run dispatcher rounds until no notification is pending."""
    import asyncio

    deadline = time.monotonic() + timeout
    while scalar(database, "SELECT count(*) FROM tellusonce_notification WHERE status = 'pending'"):
        if time.monotonic() > deadline:
            raise AssertionError("notifications still pending")
        if not await dispatcher.run_once(http):
            await asyncio.sleep(0.02)
