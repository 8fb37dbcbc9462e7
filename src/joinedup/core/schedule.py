"""Daily jobs: work that happens because a day came, not because an event did.

A context registers a job (in its ``handlers`` module, like its consumers)::

    @daily("proactive.ages", at=time(0, 5))
    def announce_ages(session: Session, on: date) -> str: ...

The workers run every registered job once per day, at or after ``at`` (UTC). A run is one
transaction that first claims ``(job, day)`` in ``core_scheduled_run`` and then runs the job,
so however many worker processes run, each day's run happens exactly once: a second claim of
the same day does nothing, and a job that fails rolls its claim back and is tried again at the
next poll. A worker that was down catches up on the days it missed (at most
:data:`CATCH_UP_DAYS`), oldest first, so nobody who turned 18 on a day the workers were down
is forgotten. Jobs must still be idempotent for their day: an operator may run one by hand
(:func:`run_job`) for a day already run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import structlog
from sqlalchemy import Date, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from joinedup.core.bus import wait_any
from joinedup.core.clock import utcnow
from joinedup.core.consumers import CONSUMER_NAME
from joinedup.core.db import Base, Database
from joinedup.core.errors import NotFound
from joinedup.core.outbox import insert_or_ignore

log = structlog.get_logger(__name__)

#: How many missed days a worker catches up on when it starts after an outage.
CATCH_UP_DAYS = 7
#: Seconds between two looks at the clock.
POLL_SECONDS = 30.0

#: ``job(session, day)`` does the day's work in the caller's transaction and returns a short
#: summary for the run's record (no personal data).
DailyJob = Callable[[Session, date], str | None]


class ScheduledRun(Base):
    """A day's run of a daily job (its claim: one row per job and day)."""

    __tablename__ = "core_scheduled_run"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    run_on: Mapped[date] = mapped_column(Date, primary_key=True)
    ran_at: Mapped[datetime]
    summary: Mapped[str | None] = mapped_column(String(500))


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    run: DailyJob
    at: time


class JobRegistry:
    """The daily jobs a process knows; importing ``handlers`` modules fills the default one."""

    def __init__(self) -> None:
        self._jobs: dict[str, ScheduledJob] = {}

    def register(self, job: ScheduledJob) -> None:
        if not CONSUMER_NAME.fullmatch(job.name):
            raise ValueError(f"job name {job.name!r} must match {CONSUMER_NAME.pattern}")
        if job.at.tzinfo is not None:
            raise ValueError("give the time of day as a naive UTC time")
        self._jobs[job.name] = job

    def get(self, name: str) -> ScheduledJob:
        try:
            return self._jobs[name]
        except KeyError:
            raise NotFound(f"no daily job named {name!r} is registered", job=name) from None

    def __iter__(self) -> Iterator[ScheduledJob]:
        return iter(sorted(self._jobs.values(), key=lambda j: j.name))

    def __len__(self) -> int:
        return len(self._jobs)


#: The registry ``@daily`` adds to and the workers run.
jobs = JobRegistry()


def daily(
    name: str, *, at: time = time(0, 5), into: JobRegistry | None = None
) -> Callable[[DailyJob], DailyJob]:
    """Register the decorated ``job(session, day)`` to run once a day at ``at`` (UTC)."""

    def register(job: DailyJob) -> DailyJob:
        (jobs if into is None else into).register(ScheduledJob(name=name, run=job, at=at))
        return job

    return register


def run_job(session: Session, job: ScheduledJob, *, on: date, claim: bool = True) -> bool:
    """Run ``job`` for the day ``on`` in the caller's transaction; with ``claim`` only if the
    day's run is not claimed yet. Returns whether it ran. Changes ``core_scheduled_run`` and
    whatever the job changes."""
    if claim:
        claimed = insert_or_ignore(
            session,
            ScheduledRun,
            {"job": job.name, "run_on": on, "ran_at": utcnow(), "summary": None},
        )
        if not claimed:
            return False
    summary = job.run(session, on)
    if claim and summary:
        row = session.get(ScheduledRun, (job.name, on))
        if row is not None:
            row.summary = summary[:500]
    session.flush()
    log.info("daily_job_ran", job=job.name, day=on.isoformat(), summary=summary)
    return True


def days_due(session: Session, job: ScheduledJob, *, now: datetime) -> list[date]:
    """The days ``job`` should run for at ``now``, oldest first: every day since its last run
    (at most :data:`CATCH_UP_DAYS`), and today once its time has come."""
    last = session.scalar(select(func.max(ScheduledRun.run_on)).where(ScheduledRun.job == job.name))
    latest = now.date() if now.time().replace(tzinfo=None) >= job.at else now.date() - timedelta(1)
    first = (
        latest if last is None else max(last + timedelta(1), now.date() - timedelta(CATCH_UP_DAYS))
    )
    days = []
    day = first
    while day <= latest:
        days.append(day)
        day += timedelta(1)
    return days


def run_due(database: Database, job: ScheduledJob, *, now: datetime) -> int:
    """Run every due day of ``job``, one transaction each; returns how many ran here."""
    with database.reading() as session:
        due = days_due(session, job, now=now)
    ran = 0
    for day in due:
        with database.unit_of_work() as session:
            ran += run_job(session, job, on=day)
    return ran


async def run_schedule(
    database: Database,
    stop: asyncio.Event,
    *,
    registry: JobRegistry | None = None,
    clock: Callable[[], datetime] = utcnow,
    poll: float = POLL_SECONDS,
) -> None:
    """Run the registered daily jobs as they fall due, until ``stop`` is set. A failing job is
    logged and tried again at the next poll (its day stays unclaimed)."""
    known = list(jobs if registry is None else registry)
    while not stop.is_set():
        for job in known:
            try:
                await asyncio.to_thread(run_due, database, job, now=clock())
            except Exception:
                log.exception("daily_job_failed", job=job.name)
        if await wait_any(stop, timeout=poll):
            return


__all__ = [
    "CATCH_UP_DAYS",
    "DailyJob",
    "JobRegistry",
    "ScheduledJob",
    "ScheduledRun",
    "daily",
    "days_due",
    "jobs",
    "run_due",
    "run_job",
    "run_schedule",
]
