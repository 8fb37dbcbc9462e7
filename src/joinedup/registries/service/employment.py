"""The employment and income register: who works where, and what they earn per month.

Money is integer minor units (cents) with its currency, never a float.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from functools import cache

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, bindparam, func, select, union_all
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.events import emit
from joinedup.registries.events import (
    EmploymentEnded,
    EmploymentImported,
    EmploymentStarted,
    IncomeRecorded,
)
from joinedup.registries.models import Employment, MonthlyIncome
from joinedup.registries.schemas import EmploymentRecord, IncomeRecord
from joinedup.registries.service import bitemporal
from joinedup.registries.service.bulk import insert_columns
from joinedup.registries.service.checks import (
    Problems,
    check_not_future,
    check_order,
    check_required_dates,
    check_unique,
    dates,
    years_between,
)
from joinedup.registries.service.lookups import business_facts, member_of, person_facts
from joinedup.registries.service.rules import WORKING_AGE, check_no_overlap

CURRENCY = "EUR"
#: A month's income above this (in cents) is taken for a typing error.
MAX_MONTHLY_AMOUNT = 100_000_000_00
NaT = np.datetime64("NaT", "D")


@dataclass(frozen=True, kw_only=True)
class EmploymentColumns:
    person_id: npt.NDArray[np.int64]
    business_id: npt.NDArray[np.int64]
    valid_from: npt.NDArray[np.datetime64]
    valid_to: npt.NDArray[np.datetime64]  # NaT: still employed

    def __len__(self) -> int:
        return int(self.person_id.shape[0])


@dataclass(frozen=True, kw_only=True)
class IncomeColumns:
    person_id: npt.NDArray[np.int64]
    business_id: npt.NDArray[np.int64]
    period: npt.NDArray[np.str_]  # YYYY-MM
    amount: npt.NDArray[np.int64]  # minor units

    def __len__(self) -> int:
        return int(self.person_id.shape[0])


def _pair_key(
    person: npt.NDArray[np.int64], business: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    return (person.astype(np.int64) << 24) | business.astype(np.int64)


def parse_periods(problems: Problems, periods: npt.NDArray[np.str_]) -> npt.NDArray[np.datetime64]:
    """``YYYY-MM`` strings as months (NaT where malformed, which is reported)."""
    arr = np.asarray(periods, dtype=np.str_)
    n = arr.shape[0]
    ok = np.char.str_len(arr) == 7
    chars = np.frombuffer(np.where(ok, arr, "0000-00").astype("U7").tobytes(), dtype="<u4").reshape(
        n, 7
    )
    digits = np.delete(chars, 4, axis=1).astype(np.int64) - 48
    ok &= (chars[:, 4] == ord("-")) & ((digits >= 0) & (digits <= 9)).all(axis=1)
    month = digits[:, 4] * 10 + digits[:, 5]
    ok &= (month >= 1) & (month <= 12)
    problems.check(~ok, "period", "must be a month written YYYY-MM")
    year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
    months = ((year - 1970) * 12 + month - 1).astype("datetime64[M]")
    return np.where(ok, months, np.datetime64("NaT", "M"))


def _check_employments(session: Session, problems: Problems, rows: EmploymentColumns) -> None:
    check_required_dates(problems, "valid_from", rows.valid_from)
    check_not_future(problems, "valid_from", rows.valid_from, today())
    check_not_future(problems, "valid_to", rows.valid_to, today())
    check_order(
        problems,
        "valid_to",
        rows.valid_from,
        rows.valid_to,
        "must be after valid_from",
        strict=True,
    )
    person = person_facts(session, rows.person_id)
    business = business_facts(session, rows.business_id)
    problems.check(~person.found, "person_id", "is not a registered person")
    problems.check(~business.found, "business_id", "is not a registered business")
    check_order(
        problems,
        "valid_from",
        business.start,
        rows.valid_from,
        "is before the employer was registered",
    )
    known = person.found & ~np.isnat(rows.valid_from)
    ages = years_between(np.where(known, person.start, rows.valid_from), rows.valid_from)
    problems.check(
        known & (ages < WORKING_AGE), "valid_from", f"an employee is at least {WORKING_AGE}"
    )
    died = ~np.isnat(person.end)
    problems.check(
        died & (person.end <= rows.valid_from), "valid_from", "the person has died by then"
    )
    problems.check(
        died & (np.isnat(rows.valid_to) | (rows.valid_to > person.end)),
        "valid_to",
        "an employment ends at the latest on the date of death",
    )
    if problems:
        return
    existing = _current_employments(session, rows.person_id)
    keys = np.concatenate([_pair_key(rows.person_id, rows.business_id), existing[0]])
    check_no_overlap(
        problems.subset(np.concatenate([np.arange(len(rows)), np.full(existing[0].shape[0], -1)])),
        "valid_from",
        keys,
        np.concatenate([rows.valid_from, existing[1]]),
        np.concatenate([rows.valid_to, existing[2]]),
        "overlaps another employment of the person with the same employer",
    )


def _current_employments(
    session: Session, person_ids: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.datetime64], npt.NDArray[np.datetime64]]:
    rows = session.execute(
        select(
            Employment.person_id, Employment.business_id, Employment.valid_from, Employment.valid_to
        ).where(
            member_of(session, Employment.person_id, np.unique(person_ids).tolist()),
            Employment.superseded_at.is_(None),
        )
    ).all()
    keys = _pair_key(
        np.array([r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=np.int64),
    )
    return keys, dates([r[2] for r in rows]), dates([r[3] for r in rows])


def _check_incomes(
    session: Session, problems: Problems, incomes: IncomeColumns, employments: EmploymentColumns
) -> None:
    months = parse_periods(problems, incomes.period)
    this_month = np.datetime64(today(), "M")
    problems.check(~np.isnat(months) & (months > this_month), "period", "is in the future")
    if incomes.amount.dtype.kind not in "iu":
        problems.add("amount", "must be whole minor units (cents), not a fraction")
    else:
        problems.check(incomes.amount < 0, "amount", "must not be negative")
        problems.check(incomes.amount > MAX_MONTHLY_AMOUNT, "amount", "is implausibly large")
    month_index = np.where(np.isnat(months), 0, months.astype(np.int64))
    income_key = _pair_key(incomes.person_id, incomes.business_id)
    check_unique(problems, "period", (income_key << 11) | (month_index & 0x7FF))
    # Incomes are for the employed only: an employment of this batch with that employer must
    # cover part of the month.
    start = months.astype("datetime64[D]")
    end = (months + 1).astype("datetime64[D]")
    employment_key = _pair_key(employments.person_id, employments.business_id)
    order = np.argsort(employment_key, kind="stable")
    sorted_keys = employment_key[order]
    first = np.searchsorted(sorted_keys, income_key, side="left")
    last = np.searchsorted(sorted_keys, income_key, side="right")
    covered = np.zeros(len(incomes), dtype=np.bool_)
    for offset in range(int((last - first).max()) if len(incomes) else 0):
        has = first + offset < last
        index = order[np.minimum(first + offset, max(len(order) - 1, 0))]
        e_from, e_to = employments.valid_from[index], employments.valid_to[index]
        overlaps = (e_from < end) & (np.isnat(e_to) | (e_to > start))
        covered |= has & overlaps
    problems.check(
        ~np.isnat(months) & ~covered,
        "period",
        "the person was not employed by that employer in that month (per the employments given)",
    )


def import_employment(
    session: Session, *, employments: EmploymentColumns, incomes: IncomeColumns, actor: str
) -> int:
    """Register employments and the monthly incomes they paid, all or none.

    Every income must be covered by one of ``employments``. Emits one
    ``employment.imported.v1``; returns the number of rows written.
    """
    problems = Problems("employments")
    _check_employments(session, problems, employments)
    income_problems = Problems("incomes")
    _check_incomes(session, income_problems, incomes, employments)
    problems.extend(income_problems)
    problems.raise_if_any()
    now = utcnow()
    insert_columns(
        session,
        Employment,
        {
            "person_id": employments.person_id,
            "business_id": employments.business_id,
            "valid_from": employments.valid_from,
            "valid_to": employments.valid_to,
            "recorded_at": now,
            "recorded_by": actor,
            "superseded_at": None,
        },
    )
    insert_columns(
        session,
        MonthlyIncome,
        {
            "person_id": incomes.person_id,
            "business_id": incomes.business_id,
            "period": incomes.period,
            "amount": incomes.amount,
            "currency": CURRENCY,
            "recorded_at": now,
            "recorded_by": actor,
            "superseded_at": None,
        },
    )
    periods = sorted(set(np.unique(incomes.period).tolist()))
    emit(
        session,
        EmploymentImported(
            employments=len(employments),
            ended=int((~np.isnat(employments.valid_to)).sum()),
            incomes=len(incomes),
            first_period=periods[0] if periods else None,
            last_period=periods[-1] if periods else None,
        ),
    )
    return len(employments) + len(incomes)


def start_employment(
    session: Session, *, person_id: int, business_id: int, started_on: date, actor: str
) -> EmploymentRecord:
    """Register that a person works for an employer from ``started_on``. Writes one
    employment version; emits ``employment.started.v1``."""
    rows = EmploymentColumns(
        person_id=np.array([person_id], dtype=np.int64),
        business_id=np.array([business_id], dtype=np.int64),
        valid_from=dates([started_on]),
        valid_to=dates([None]),
    )
    problems = Problems()
    _check_employments(session, problems, rows)
    problems.raise_if_any()
    row = Employment(
        person_id=person_id,
        business_id=business_id,
        valid_from=started_on,
        valid_to=None,
        recorded_at=utcnow(),
        recorded_by=actor,
        superseded_at=None,
    )
    session.add(row)
    session.flush()
    emit(
        session,
        EmploymentStarted(
            employment_id=row.id,
            person_id=person_id,
            business_id=business_id,
            started_on=started_on,
        ),
    )
    return EmploymentRecord.model_validate(row)


def end_employment(
    session: Session, *, employment_id: int, ended_on: date, actor: str
) -> EmploymentRecord:
    """Register that an employment ended: from ``ended_on`` the person no longer works there
    (the last working day is the day before). Supersedes the open version and inserts the
    ended one; emits ``employment.ended.v1``."""
    ended = bitemporal.end_lasting(
        session,
        Employment,
        employment_id,
        id_field="employment_id",
        end_field="ended_on",
        end=ended_on,
        what="employment",
        after="must be after the start",
        actor=actor,
    )
    emit(
        session,
        EmploymentEnded(
            employment_id=ended.id,
            person_id=ended.person_id,
            business_id=ended.business_id,
            ended_on=ended_on,
        ),
    )
    return EmploymentRecord.model_validate(ended)


def record_monthly_income(
    session: Session, *, person_id: int, business_id: int, period: str, amount: int, actor: str
) -> IncomeRecord:
    """Record what an employer paid a person in a month (``amount`` in cents). A second
    declaration for the same month is a correction: it supersedes the first. Emits
    ``income.recorded.v1``."""
    problems = Problems()
    if isinstance(amount, bool) or not isinstance(amount, int):
        problems.add("amount", "must be whole minor units (cents), not a fraction")
        problems.raise_if_any()
    months = parse_periods(problems, np.array([period]))
    problems.raise_if_any()
    month_start = months[0].astype("datetime64[D]").astype(date)
    month_end = (months[0] + 1).astype("datetime64[D]").astype(date)
    employment = session.scalar(
        select(Employment).where(
            Employment.person_id == person_id,
            Employment.business_id == business_id,
            Employment.superseded_at.is_(None),
            bitemporal.overlapping(Employment, month_start, month_end),
        )
    )
    covering = EmploymentColumns(
        person_id=np.array([person_id if employment else -1], dtype=np.int64),
        business_id=np.array([business_id], dtype=np.int64),
        valid_from=dates([employment.valid_from if employment else None]),
        valid_to=dates([employment.valid_to if employment else None]),
    )
    incomes = IncomeColumns(
        person_id=np.array([person_id], dtype=np.int64),
        business_id=np.array([business_id], dtype=np.int64),
        period=np.array([period]),
        amount=np.array([amount], dtype=np.int64),
    )
    _check_incomes(session, problems, incomes, covering)
    problems.raise_if_any()
    now = utcnow()
    previous = session.scalar(
        select(MonthlyIncome.id).where(
            MonthlyIncome.person_id == person_id,
            MonthlyIncome.business_id == business_id,
            MonthlyIncome.period == period,
            MonthlyIncome.superseded_at.is_(None),
        )
    )
    if previous is not None:
        bitemporal.supersede(session, MonthlyIncome, [previous], now)
    row = MonthlyIncome(
        person_id=person_id,
        business_id=business_id,
        period=period,
        amount=amount,
        currency=CURRENCY,
        recorded_at=now,
        recorded_by=actor,
        superseded_at=None,
    )
    session.add(row)
    session.flush()
    emit(
        session,
        IncomeRecorded(
            income_id=row.id,
            person_id=person_id,
            business_id=business_id,
            period=period,
            correction=previous is not None,
        ),
    )
    return IncomeRecord.model_validate(row)


def employments_of(
    session: Session, *, person_id: int, valid: date | None = None, known: bitemporal.Known = None
) -> list[EmploymentRecord]:
    """The person's employments valid on ``valid`` (None: at any time) as known at ``known``."""
    if known is None:
        found = bitemporal.person_rows_now(
            session, Employment, person_id=person_id, valid=valid, order_by=("valid_from", "id")
        )
        return [EmploymentRecord.model_validate(r._mapping) for r in found]
    rows = session.scalars(
        select(Employment)
        .where(
            Employment.person_id == person_id,
            bitemporal.as_of(Employment, valid=valid, known=known),
        )
        .order_by(Employment.valid_from, Employment.id)
    )
    return [EmploymentRecord.model_validate(r) for r in rows]


def incomes_of(
    session: Session,
    *,
    person_id: int,
    from_period: str,
    to_period: str,
    known: bitemporal.Known = None,
) -> list[IncomeRecord]:
    """The person's monthly incomes from ``from_period`` to ``to_period`` (inclusive, YYYY-MM)
    as known at ``known``, by month and employer."""
    base = (
        MonthlyIncome.person_id == person_id,
        MonthlyIncome.period >= from_period,
        MonthlyIncome.period <= to_period,
    )
    if known is None:
        statement = select(MonthlyIncome).where(*base, MonthlyIncome.superseded_at.is_(None))
    else:
        believed, superseded = bitemporal.known_at_split(MonthlyIncome, known)
        versions = union_all(
            select(MonthlyIncome.id).where(*base, believed),
            select(MonthlyIncome.id).where(*base, superseded),
        ).subquery()
        statement = select(MonthlyIncome).where(MonthlyIncome.id.in_(select(versions.c.id)))
    rows = session.scalars(statement.order_by(MonthlyIncome.period, MonthlyIncome.business_id))
    return [IncomeRecord.model_validate(r) for r in rows]


def monthly_income_totals(
    session: Session,
    *,
    person_id: int,
    from_period: str,
    to_period: str,
    known: bitemporal.Known = None,
) -> dict[str, int]:
    """The person's income per month over every employer, from ``from_period`` to
    ``to_period`` (inclusive, YYYY-MM), as known at ``known``; a month without income is left
    out. Summed by the database as the register knows it now (the statement of
    :func:`monthly_income_totals_of_many`: the income-totals service answers with it), else
    from :func:`incomes_of`."""
    if known is not None:
        totals: dict[str, int] = {}
        found = incomes_of(
            session, person_id=person_id, from_period=from_period, to_period=to_period,
            known=known,
        )  # fmt: skip
        for income in found:
            totals[income.period] = totals.get(income.period, 0) + income.amount
        return totals
    many = monthly_income_totals_of_many(
        session, person_ids=[person_id], from_period=from_period, to_period=to_period
    )
    return many.get(person_id, {})


def monthly_income_totals_of_many(
    session: Session, *, person_ids: Collection[int], from_period: str, to_period: str
) -> dict[int, dict[str, int]]:
    """:func:`monthly_income_totals` (as the register knows it now) of many persons in one
    statement: person → month → total; a person without income in the range is left out."""
    totals: dict[int, dict[str, int]] = {}
    wanted = sorted(set(person_ids))
    if not wanted:
        return totals
    rows = session.connection().execute(
        _current_totals_of_many(),
        {"person_ids": wanted, "first": from_period, "last": to_period},
    )
    for person_id, period, amount in rows:
        totals.setdefault(int(person_id), {})[period] = int(amount)
    return totals


@cache
def _current_totals_of_many() -> Select[int, str, int]:
    """Built once: the current monthly totals of many persons over a range of months."""
    return (
        select(MonthlyIncome.person_id, MonthlyIncome.period, func.sum(MonthlyIncome.amount))
        .where(
            MonthlyIncome.person_id.in_(bindparam("person_ids", expanding=True)),
            MonthlyIncome.period >= bindparam("first"),
            MonthlyIncome.period <= bindparam("last"),
            MonthlyIncome.superseded_at.is_(None),
        )
        .group_by(MonthlyIncome.person_id, MonthlyIncome.period)
    )
