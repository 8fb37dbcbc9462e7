"""Reaching an age: the daily job announces who turns 6, 18 or pension age on a day (once
per day, however many workers run it), and the services concerned react — the pension is
offered, and a death ends it."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from proactive_support import entitlements_of, latest_events, react_to, record_death, run_workers
from sqlalchemy import text

from joinedup.core.clock import UTC
from joinedup.core.db import Database
from joinedup.core.schedule import JobRegistry, ScheduledJob, daily, days_due, jobs, run_due
from joinedup.core.settings import Settings
from joinedup.proactive import EntitlementStatus, decide
from joinedup.proactive.handlers import announce_ages, pension_age


def _turning_pension_age(database: Database) -> tuple[str, date]:
    """A living resident who turns pension age (66) between 2024 and 2026, and that day."""
    with database.reading() as session:
        code, born = session.execute(
            text(
                "SELECT p.personal_code, p.birth_date FROM person p WHERE p.date_of_death IS NULL "
                "AND p.birth_date BETWEEN '1958-01-02' AND '1960-12-27' "
                "AND strftime('%m-%d', p.birth_date) <> '02-29' AND EXISTS (SELECT 1 FROM "
                "residence r WHERE r.person_id = p.id AND r.superseded_at IS NULL "
                "AND r.valid_to IS NULL) ORDER BY p.id LIMIT 1"
            )
        ).one()
    born = born if isinstance(born, date) else date.fromisoformat(born)
    on = born.replace(year=born.year + 66)
    assert pension_age(on) == 66
    return str(code), on


def test_the_daily_job_announces_once_and_the_pension_is_offered(seeded: Database) -> None:
    person, on = _turning_pension_age(seeded)
    job = jobs.get("proactive.ages")
    now = datetime.combine(on, time(6, 0), tzinfo=UTC)
    assert run_due(seeded, job, now=now) == 1
    assert run_due(seeded, job, now=now) == 0  # claimed: another worker does nothing
    events = latest_events(seeded, "population.age_reached.v1", 500)
    mine = [e for e in events if e.payload["reached_on"] == on.isoformat()]
    assert mine
    assert {e.payload["age"] for e in mine} <= {6, 18, 66}
    react_to(seeded, mine)

    pension = entitlements_of(seeded, person)["old-age-pension"]
    assert pension.status is EntitlementStatus.OFFERED
    assert pension.amount_cents == 87_550
    first_month = (on.replace(day=28) + timedelta(days=4)).replace(day=1)
    assert pension.period_start == (on if on.day == 1 else first_month)
    assert "pension age" in pension.reason

    record_death(seeded, person=person, died=on + timedelta(days=3))
    react_to(seeded, latest_events(seeded, "population.death_registered.v1"))
    ended = entitlements_of(seeded, person)["old-age-pension"]
    assert ended.status is EntitlementStatus.ENDED
    assert ended.period_end == on + timedelta(days=3)


def test_days_due_catch_up_and_wait_for_the_time_of_day(seeded: Database) -> None:
    ran: list[date] = []
    registry = JobRegistry()

    @daily("test.counting", at=time(2, 0), into=registry)
    def count(session: Any, day: date) -> str:
        ran.append(day)
        return "counted"

    job: ScheduledJob = registry.get("test.counting")
    monday = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    with seeded.reading() as session:
        assert days_due(session, job, now=monday) == [date(2026, 3, 1)]  # before 02:00
    assert run_due(seeded, job, now=monday) == 1
    thursday = datetime(2026, 3, 5, 3, 0, tzinfo=UTC)  # the workers were down since
    assert run_due(seeded, job, now=thursday) == 4
    assert ran == [date(2026, 3, d) for d in (1, 2, 3, 4, 5)]
    assert run_due(seeded, job, now=thursday) == 0
    with seeded.reading() as session:
        summaries = set(
            session.scalars(
                text("SELECT summary FROM core_scheduled_run WHERE job = 'test.counting'")
            )
        )
    assert summaries == {"counted"}


def test_a_failing_job_leaves_its_day_unclaimed(seeded: Database) -> None:
    registry = JobRegistry()
    attempts: list[date] = []

    @daily("test.failing", into=registry)
    def fail(session: Any, day: date) -> str:
        attempts.append(day)
        raise RuntimeError("the register is away")

    job = registry.get("test.failing")
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    for _ in range(2):
        with pytest.raises(RuntimeError):
            run_due(seeded, job, now=now)
    assert attempts == [date(2026, 3, 2)] * 2
    with pytest.raises(ValueError, match="job name"):
        registry.register(ScheduledJob(name="Bad Name", run=fail, at=time(1, 0)))


def test_the_workers_run_the_daily_job(seeded: Database, tmp_path: Any) -> None:
    """The embedded workers run the platform's daily jobs: the day's run is claimed (today,
    or yesterday before 00:05 UTC) without anybody asking."""
    settings = Settings(
        environment="test",
        data_dir=tmp_path / "var",
        log_format="console",
        database_url=seeded.url,
    )

    def claimed() -> bool:
        with seeded.reading() as session:
            found = session.scalar(
                text("SELECT count(*) FROM core_scheduled_run WHERE job = 'proactive.ages'")
            )
        return int(found or 0) == 1

    run_workers(settings, seeded, claimed, consumers=["proactive.ages"], schedule=True)
    assert claimed()


def test_turning_six_offers_a_place_at_the_school_of_the_child_s_municipality(
    seeded: Database,
) -> None:
    with seeded.reading() as session:
        code, born = session.execute(
            text(
                "SELECT p.personal_code, p.birth_date FROM person p WHERE p.date_of_death IS NULL "
                "AND p.birth_date BETWEEN '2018-01-02' AND '2020-12-31' "
                "AND strftime('%m', p.birth_date) BETWEEN '01' AND '07' "
                "AND strftime('%m-%d', p.birth_date) <> '02-29' AND EXISTS (SELECT 1 FROM "
                "residence r WHERE r.person_id = p.id AND r.superseded_at IS NULL "
                "AND r.valid_to IS NULL) ORDER BY p.id LIMIT 1"
            )
        ).one()
    born = born if isinstance(born, date) else date.fromisoformat(born)
    on = born.replace(year=born.year + 6)
    with seeded.unit_of_work() as session:
        announce_ages(session, on)
    mine = [
        e
        for e in latest_events(seeded, "population.age_reached.v1", 500)
        if e.payload["reached_on"] == on.isoformat() and e.payload["age"] == 6
    ]
    react_to(seeded, mine)
    found = entitlements_of(seeded, str(code))
    (school,) = [e for c, e in found.items() if c.startswith("school-enrolment-")]
    municipalities = {e.payload["municipality_code"] for e in mine}
    assert school.service_code in {f"school-enrolment-{m}" for m in municipalities}
    assert school.status is EntitlementStatus.OFFERED
    assert school.amount_cents is None
    assert "Enrolment due" in school.reason
    # a parent accepts the school place for the child (a parent's mandate, read through the
    # exchange as the portal), and the revision names both
    with seeded.reading() as session:
        parent = session.scalar(
            text(
                "SELECT p.personal_code FROM relation r JOIN person p ON p.id = r.person_id "
                "JOIN person c ON c.id = r.related_person_id WHERE r.kind = 'parent' "
                "AND c.personal_code = :child AND r.superseded_at IS NULL AND r.valid_to IS NULL "
                "AND p.date_of_death IS NULL ORDER BY p.id LIMIT 1"
            ),
            {"child": str(code)},
        )
    assert parent is not None
    with seeded.unit_of_work() as session:
        detail = decide(session, entitlement_id=school.id, decision="accept", actor_code=parent)
    assert detail.status is EntitlementStatus.GRANTED
    assert detail.history[-1].actor == f"person:{parent}"
    assert detail.history[-1].acting_for == str(code)
