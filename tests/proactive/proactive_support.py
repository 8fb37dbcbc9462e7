"""Helpers of the proactive services' tests: civil registration through its public entry
point (the population register's write services, called in-process as the registrar), the
families it is recorded for, and workers run until the proactive services have reacted."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Callable, Collection
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from joinedup import notify, proactive
from joinedup.core.clock import today
from joinedup.core.db import Database
from joinedup.core.events import Delivered
from joinedup.core.outbox import OutboxEvent
from joinedup.core.pagination import PageRequest
from joinedup.core.settings import Settings
from joinedup.core.worker import EmbeddedWorkers
from joinedup.demo import organisation
from joinedup.exchange import exchange_client
from joinedup.exchange.usage_queries import list_usage
from joinedup.notify import list_letters
from joinedup.proactive import EntitlementView, list_entitlements

POPULATION = organisation("population-register")
REGISTRAR = f"GOV/{POPULATION.member_code}/civil-registration"
SIB = organisation("social-insurance")
FOOD_BANK = organisation("food-bank")
PROACTIVE_CONSUMERS = (
    "proactive.births",
    "proactive.deaths",
    "proactive.marriages",
    "proactive.moves",
    "proactive.employment-ended",
    "proactive.ages",
    "proactive.consents",
    "proactive.consent-withdrawals",
)


def write(database: Database, code: str, body: dict[str, Any]) -> dict[str, Any]:
    """Call the population register's write service ``code`` as the registrar, committed."""
    with database.unit_of_work() as session, exchange_client(session, client=REGISTRAR) as calls:
        answer = calls.write(
            f"GOV/{POPULATION.member_code}/population/{code}",
            purpose="civil-registration",
            body=body,
        )
    return answer.body


def record_birth(
    database: Database, *, mother: str, father: str | None, born: date, reference: str | None = None
) -> dict[str, Any]:
    return write(
        database,
        "record-birth",
        {
            "reference": reference or f"CRVS-{uuid.uuid4().hex[:12]}",
            "givenNames": "Mari",
            "familyName": "Tamm",
            "birthDate": born.isoformat(),
            "sex": "F",
            "birthPlace": "Joinville",
            "parents": [mother, *([father] if father else [])],
        },
    )


def record_death(database: Database, *, person: str, died: date) -> dict[str, Any]:
    return write(
        database,
        "record-death",
        {
            "reference": f"CRVS-D-{uuid.uuid4().hex[:12]}",
            "personalCode": person,
            "dateOfDeath": died.isoformat(),
        },
    )


def record_move(database: Database, *, person: str, address_id: int, moved_on: date) -> None:
    write(
        database,
        "record-move",
        {
            "reference": f"CRVS-A-{uuid.uuid4().hex[:12]}",
            "personalCode": person,
            "movedOn": moved_on.isoformat(),
            "addressId": address_id,
        },
    )


def address_of(database: Database, person: str) -> int:
    """The register reference of the address ``person`` lives at now."""
    with database.reading() as session:
        return int(
            session.execute(
                text(
                    "SELECT r.address_id FROM residence r JOIN person p ON p.id = r.person_id "
                    "WHERE p.personal_code = :code AND r.superseded_at IS NULL "
                    "AND r.valid_to IS NULL"
                ),
                {"code": person},
            ).scalar_one()
        )


def move_in_with(database: Database, person: str, *, host: str, days_ago: int = 7) -> None:
    """Register ``person``'s move to where ``host`` lives, ``days_ago`` days ago."""
    record_move(
        database,
        person=person,
        address_id=address_of(database, host),
        moved_on=today() - timedelta(days=days_ago),
    )


def low_income_adults(database: Database, *, sex: str, count: int, offset: int = 0) -> list[str]:
    """Living adults of one sex born 1975–1998 with a residence, no partner, no children and
    no income at all in the register (the lowest income there is), in a stable order."""
    return adults(database, sex=sex, count=count, offset=offset, low_income=True)


def adults(
    database: Database, *, sex: str, count: int, offset: int = 0, low_income: bool = False
) -> list[str]:
    """Living adults of one sex born 1975–1998 with a residence, no partner and no children
    (with ``low_income``: and no income in the register), in a stable order."""
    income = (
        "AND NOT EXISTS (SELECT 1 FROM monthly_income i WHERE i.person_id = p.id) "
        if low_income
        else ""
    )
    with database.reading() as session:
        rows = session.execute(
            text(
                "SELECT p.personal_code FROM person p WHERE p.sex = :sex "
                "AND p.date_of_death IS NULL AND p.birth_date BETWEEN :first AND :last "
                "AND EXISTS (SELECT 1 FROM residence r WHERE r.person_id = p.id "
                "AND r.superseded_at IS NULL AND r.valid_to IS NULL) "
                "AND NOT EXISTS (SELECT 1 FROM relation u WHERE "
                "(u.kind IN ('spouse', 'partner') AND (u.person_id = p.id "
                "OR u.related_person_id = p.id)) OR (u.kind = 'parent' AND u.person_id = p.id)) "
                + income
                + "ORDER BY p.id LIMIT :count OFFSET :offset"
            ),
            {
                "sex": sex,
                "first": date(1975, 1, 1),
                "last": date(1998, 12, 31),
                "count": count,
                "offset": offset,
            },
        )
        found = [row[0] for row in rows]
    assert len(found) == count, f"the seeded country has only {len(found)} such persons"
    return found


def run_workers(
    settings: Settings,
    database: Database,
    done: Callable[[], bool],
    *,
    consumers: Collection[str] = PROACTIVE_CONSUMERS,
    timeout: float = 60.0,
    schedule: bool = False,
) -> None:
    """Run the relay and the proactive consumers (and with ``schedule`` the daily jobs)
    until ``done()`` holds."""

    async def main() -> None:
        workers = EmbeddedWorkers(settings, database, consumers=consumers, schedule=schedule)
        await workers.start()
        try:
            deadline = time.monotonic() + timeout
            while not await asyncio.to_thread(done):
                if time.monotonic() > deadline:
                    raise AssertionError(f"the proactive services did not finish in {timeout} s")
                await asyncio.sleep(0.05)
        finally:
            await workers.stop()

    asyncio.run(main())


def handled(database: Database, consumer: str, count: int) -> Callable[[], bool]:
    """Whether ``consumer`` has handled at least ``count`` events."""

    def check() -> bool:
        with database.reading() as session:
            found = session.scalar(
                text("SELECT count(*) FROM inbox_event WHERE consumer = :c"), {"c": consumer}
            )
        return int(found or 0) >= count

    return check


def latest_events(database: Database, name: str, count: int = 1) -> list[Delivered]:
    """The last ``count`` outbox events called ``name``, oldest first, as a bus delivers them."""
    with database.reading() as session:
        rows = session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.name == name)
            .order_by(OutboxEvent.id.desc())
            .limit(count)
        ).all()
        return [
            Delivered(
                event_id=row.event_id,
                name=row.name,
                payload=row.payload,
                occurred_at=row.occurred_at,
                stream_seq=row.id,
            )
            for row in reversed(rows)
        ]


def react_to(database: Database, events: list[Delivered]) -> None:
    """Handle registry events as the proactive consumers do, in one transaction."""
    from joinedup.proactive.handlers import handle_life_events

    with database.unit_of_work() as session:
        handle_life_events(session, events)


def born_to(database: Database, *parents: str) -> dict[str, Any]:
    """Register a birth today to ``parents`` and let the proactive services react."""
    child = record_birth(
        database, mother=parents[0], father=parents[1] if len(parents) > 1 else None, born=today()
    )
    react_to(database, latest_events(database, "population.birth_registered.v1"))
    return child


def entitlements_of(database: Database, person: str) -> dict[str, EntitlementView]:
    with database.reading() as session:
        page = list_entitlements(session, person_code=person)
        return {e.service_code: e for e in page.items}


def letters_of(database: Database, person: str) -> list[Any]:
    with database.reading() as session:
        items = list_letters(session, recipient_code=person, request=PageRequest(limit=200)).items
        return [le for le in items if (le.regarding or "").startswith("entitlement:")]


def clone(database: Database, path: Path) -> Database:
    """A copy of a SQLite database as it is now (committed state, log included)."""
    source = sqlite3.connect(database.url.removeprefix("sqlite:///"))
    target = sqlite3.connect(path)
    with target:
        source.backup(target)
    source.close()
    target.close()
    return Database(f"sqlite:///{path}")


def what_they_hold(database: Database, *persons: str) -> dict[str, Any]:
    """Each person's entitlements (as decided), letters and data-usage records."""
    found: dict[str, Any] = {}
    with database.reading() as session:
        for person in persons:
            entitlements = proactive.list_entitlements(session, person_code=person).items
            letters = notify.list_letters(
                session, recipient_code=person, request=PageRequest(limit=100)
            ).items
            usage = list_usage(session, subject_code=person, request=PageRequest(limit=200)).items
            found[person] = {
                "entitlements": sorted(
                    (e.service_code, e.status, e.amount_cents, e.reason, e.revision)
                    for e in entitlements
                ),
                "letters": sorted(le.subject for le in letters),
                "usage": sorted((u.service_xroad_id or "", u.purpose, u.fields) for u in usage),
            }
    return found
