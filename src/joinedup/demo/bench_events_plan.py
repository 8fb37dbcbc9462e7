"""The life events ``joinedup bench proactive --events`` registers: births to parents and deaths
of persons who share no household with another event's (:mod:`joinedup.demo.bench_events`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from joinedup.core.clock import today
from joinedup.core.db import Database

DEATH_SHARE = 10  # one event in ten is a death


@dataclass
class Event:
    kind: str  # birth | death
    body: dict[str, Any]
    concerns: list[str]  # personal codes whose entitlements and letters it may cause
    submitted: float = 0.0  # wall clock (time.time())
    answered: float = 0.0
    status: int = 0
    done: float = 0.0


def plan_events(database: Database, count: int) -> list[Event]:
    """Distinct parents for every birth and distinct persons for every death, each event's
    living at addresses no other event's persons live at, so that what each event causes is
    its own: a household is everyone registered at one address, and a birth or death in a
    household decides its benefits again (an event sharing one with a later event would count
    the later event's decisions as its own consequences, and wait for them)."""
    year = today().year
    young = {"young_from": date(year - 44, 1, 1), "young_to": date(year - 20, 1, 1)}
    with database.reading() as session:
        couples = session.execute(
            text(
                "SELECT m.personal_code, f.personal_code FROM person m "
                "JOIN relation r ON r.kind = 'spouse' AND r.superseded_at IS NULL "
                " AND r.valid_to IS NULL AND (r.person_id = m.id OR r.related_person_id = m.id) "
                "JOIN person f ON f.id = CASE WHEN r.person_id = m.id "
                " THEN r.related_person_id ELSE r.person_id END "
                "WHERE m.sex = 'F' AND m.date_of_death IS NULL AND f.date_of_death IS NULL "
                "AND m.birth_date BETWEEN :young_from AND :young_to ORDER BY m.id"
            ),
            young,
        ).all()
        mothers = session.execute(
            text(
                "SELECT personal_code FROM person WHERE sex = 'F' AND date_of_death IS NULL "
                "AND birth_date BETWEEN :young_from AND :young_to ORDER BY id"
            ),
            young,
        ).all()
        elderly = session.execute(
            text(
                "SELECT p.personal_code, ("
                " SELECT s.personal_code FROM relation r JOIN person s ON s.id = CASE WHEN "
                " r.person_id = p.id THEN r.related_person_id ELSE r.person_id END "
                " WHERE r.kind = 'spouse' AND r.superseded_at IS NULL AND r.valid_to IS NULL "
                " AND (r.person_id = p.id OR r.related_person_id = p.id) LIMIT 1) "
                "FROM person p WHERE p.date_of_death IS NULL AND p.birth_date < :old ORDER BY p.id"
            ),
            {"old": date(today().year - 70, 1, 1)},
        ).all()
        homes: dict[str, int] = dict(
            session.execute(
                text(
                    "SELECT p.personal_code, r.address_id FROM person p JOIN residence r "
                    "ON r.person_id = p.id AND r.superseded_at IS NULL AND r.valid_to IS NULL"
                )
            ).all()
        )
    parents: list[list[str]] = [[m, f] for m, f in couples]
    taken = {code for pair in parents for code in pair}
    parents += [[m] for (m,) in mothers if m not in taken]
    dying = [(p, s) for p, s in elderly if p not in taken and (s is None or s not in taken)]
    events: list[Event] = []
    used: set[str] = set()
    lived_at: set[int] = set()  # the addresses of the persons of the events so far

    def free(persons: list[str]) -> bool:
        """None of ``persons`` is another event's, nor lives with another event's."""
        return not any(code in used or homes.get(code) in lived_at for code in persons)

    def take(persons: list[str]) -> None:
        used.update(persons)
        lived_at.update(homes[code] for code in persons if code in homes)

    births = iter(parents)
    deaths = iter(dying)
    day = today()
    for i in range(count):
        if i % DEATH_SHARE == DEATH_SHARE - 1:
            for person, spouse in deaths:
                concerns = [person] + ([spouse] if spouse else [])
                if not free(concerns):
                    continue
                take(concerns)
                events.append(
                    Event(
                        "death",
                        {"reference": f"bench-d-{i}", "personalCode": person,
                         "dateOfDeath": day.isoformat()},
                        concerns,
                    )
                )  # fmt: skip
                break
            else:
                raise RuntimeError("the seeded country has too few persons for the deaths")
            continue
        for pair in births:
            if not free(pair):
                continue
            take(pair)
            events.append(
                Event(
                    "birth",
                    {
                        "reference": f"bench-b-{i}",
                        "givenNames": "Mari",
                        "familyName": "Tamm",
                        "birthDate": (day - timedelta(days=i % 10)).isoformat(),
                        "sex": "FM"[i % 2],
                        "birthPlace": "Joinville",
                        "parents": pair,
                    },
                    list(pair),
                )
            )
            break
        else:
            raise RuntimeError("the seeded country has too few parents for the births")
    return events
