"""Who reaches an age on a day: the population register's daily announcement."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from joinedup.core.errors import ValidationFailed
from joinedup.core.events import emit_many
from joinedup.registries.events import AgeReached
from joinedup.registries.service.queries import persons_born_on, residence_of

#: The largest age anybody asks about (the register holds nobody older in practice).
MAX_AGE = 130


def _birth_days(on: date, age: int) -> list[date]:
    """The birth dates of those who turn ``age`` on ``on``. A 29 February birthday counts on
    1 March in a common year (as the population register counts coming of age)."""
    year = on.year - age
    days = []
    try:
        days.append(on.replace(year=year))
    except ValueError:  # 29 February of a leap year, and the birth year is a common year
        return []
    if on.month == 3 and on.day == 1 and not _leap(on.year) and _leap(year):
        days.append(date(year, 2, 29))
    return days


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def announce_ages_reached(session: Session, *, on: date, ages: Sequence[int]) -> int:
    """Emit ``population.age_reached.v1`` for every living person who turns one of ``ages``
    on the day ``on`` (with their municipality of residence that day). Returns how many.

    Changes nothing but the outbox. Calling it twice for a day announces twice: the caller
    (a daily job) claims the day first."""
    wanted = sorted(set(ages))
    if not wanted or any(not 0 < age <= MAX_AGE for age in wanted):
        raise ValidationFailed(
            f"ages must be between 1 and {MAX_AGE}",
            errors=[{"field": "ages", "message": f"each between 1 and {MAX_AGE}"}],
        )
    events: list[AgeReached] = []
    for age in wanted:
        for birth_date in _birth_days(on, age):
            for person_id in persons_born_on(session, birth_date=birth_date):
                residence = residence_of(session, person_id=person_id, valid=on)
                events.append(
                    AgeReached(
                        person_id=person_id,
                        age=age,
                        reached_on=on,
                        municipality_code=residence.address.municipality_code
                        if residence
                        else None,
                    )
                )
    emit_many(session, events)
    return len(events)
