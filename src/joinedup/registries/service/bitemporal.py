"""Bitemporal reads and writes: what held when, as known when.

Reads: :func:`as_of` is the filter "valid on ``valid``, as the register knew it at ``known``";
:func:`known_at` is the recorded-time half alone (for monthly incomes, whose valid time is
their month).

Writes never change a fact in place. :func:`replace_period` is a *sequenced update*: it makes
a value hold over ``[valid_from, valid_to)`` by superseding the believed versions that overlap
the period and re-inserting the parts of them outside it, so history before and after the
period survives and the old belief remains queryable at an earlier ``known``.
:func:`revise` replaces one version by a changed copy (ending a marriage, an employment).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    Date,
    Row,
    Select,
    Table,
    and_,
    bindparam,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from joinedup.registries.models import Bitemporal, MonthlyIncome

B = TypeVar("B", bound=Bitemporal)

Known = datetime | date | None


def known_instant(known: datetime | date) -> tuple[datetime, bool]:
    """The instant ``known`` stands for and whether a row recorded exactly then counts.

    A datetime is that instant (rows recorded at it count). A date means "at the end of that
    day, UTC": everything recorded before the next midnight counts.
    """
    if isinstance(known, datetime):
        if known.tzinfo is None:
            raise ValueError("known must be timezone-aware")
        return known, True
    return datetime.combine(known + timedelta(days=1), time(), tzinfo=UTC), False


def known_at(model: type[Bitemporal] | type[MonthlyIncome], known: Known) -> ColumnElement[bool]:
    """Rows the register believed at ``known`` (None: believes now)."""
    if known is None:
        return model.superseded_at.is_(None)
    instant, inclusive = known_instant(known)
    recorded = model.recorded_at <= instant if inclusive else model.recorded_at < instant
    still = model.superseded_at > instant if inclusive else model.superseded_at >= instant
    return and_(recorded, or_(model.superseded_at.is_(None), still))


def known_at_split(
    model: type[Bitemporal] | type[MonthlyIncome], known: datetime | date
) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """:func:`known_at` as two disjoint halves, rows still believed and rows superseded since,
    so each half can use its own partial index."""
    instant, inclusive = known_instant(known)
    recorded = model.recorded_at <= instant if inclusive else model.recorded_at < instant
    still = model.superseded_at > instant if inclusive else model.superseded_at >= instant
    return (
        and_(model.superseded_at.is_(None), recorded),
        and_(model.superseded_at.is_not(None), still, recorded),
    )


def valid_on(model: type[Bitemporal], valid: date | ColumnElement[date]) -> ColumnElement[bool]:
    """Versions whose valid period contains the day ``valid`` (a day, or a bound parameter of
    a statement built once)."""
    return and_(model.valid_from <= valid, or_(model.valid_to.is_(None), model.valid_to > valid))


def as_of(
    model: type[Bitemporal], *, valid: date | None, known: Known = None
) -> ColumnElement[bool]:
    """Versions valid on ``valid`` (None: any time) as known at ``known`` (None: now).

    ``select(Residence).where(Residence.person_id == p, as_of(Residence, valid=d, known=k))``
    answers "where did P live on d, as the register knew it at k".
    """
    clauses = [known_at(model, known)]
    if valid is not None:
        clauses.append(valid_on(model, valid))
    return and_(*clauses)


def person_rows_now(
    session: Session,
    model: type[Bitemporal],
    *,
    person_id: int,
    valid: date | None,
    order_by: tuple[str, ...] = ("id",),
) -> list[Row[Any]]:
    """A person's rows of ``model`` valid on ``valid`` (None: on any day) as the register
    believes now — :func:`as_of` with ``known=None`` — as plain rows of the table's columns,
    ordered by the columns named. Through a statement built once per model, order and kind
    of day: the providers answering the exchange ask this on every call."""
    key = (model.__name__, order_by, valid is None)
    statement = _PERSON_ROWS_NOW.get(key)
    if statement is None:
        table = cast(Table, inspect(model).local_table)
        statement = select(table).where(
            table.c.person_id == bindparam("person_id"), known_at(model, None)
        )
        if valid is not None:
            statement = statement.where(valid_on(model, bindparam("on", type_=Date())))
        statement = statement.order_by(*(table.c[name] for name in order_by))
        _PERSON_ROWS_NOW[key] = statement
    return list(session.connection().execute(statement, {"person_id": person_id, "on": valid}))


#: The statements of :func:`person_rows_now`, by (model, order, any day).
_PERSON_ROWS_NOW: dict[tuple[str, tuple[str, ...], bool], Select[Any]] = {}


def overlapping(
    model: type[Bitemporal], valid_from: date, valid_to: date | None
) -> ColumnElement[bool]:
    """Versions whose valid period overlaps ``[valid_from, valid_to)``."""
    ends_after_start = or_(model.valid_to.is_(None), model.valid_to > valid_from)
    if valid_to is None:
        return ends_after_start
    return and_(model.valid_from < valid_to, ends_after_start)


def _copy(
    row: Bitemporal, model: type[B], changes: Mapping[str, Any], now: datetime, actor: str
) -> B:
    values = {
        key: getattr(row, key)
        for key in inspect(model).columns.keys()  # noqa: SIM118 (a column collection)
        if key not in {"id", "recorded_at", "recorded_by", "superseded_at"}
    }
    values.update(changes)
    values.update(recorded_at=now, recorded_by=actor, superseded_at=None)
    return model(**values)


def supersede(
    session: Session, model: type[Bitemporal] | type[MonthlyIncome], ids: list[int], now: datetime
) -> None:
    """Mark versions as no longer believed from ``now`` on (the only update the registries do)."""
    if ids:
        session.execute(
            update(model)
            .where(model.id.in_(ids), model.superseded_at.is_(None))
            .values(superseded_at=now)
        )


def replace_period(
    session: Session,
    model: type[B],
    *,
    key: Mapping[str, Any],
    valid_from: date,
    valid_to: date | None,
    values: Mapping[str, Any] | None,
    now: datetime,
    actor: str,
) -> tuple[list[B], B | None]:
    """Make ``values`` hold for the entity ``key`` over ``[valid_from, valid_to)``.

    ``values`` None means the fact stops holding over the period (a residence ends). Returns
    the superseded versions and the new version (None when ``values`` is None). Flushes.
    """
    conditions = [getattr(model, name) == value for name, value in key.items()]
    old = list(
        session.scalars(
            select(model)
            .where(
                *conditions, model.superseded_at.is_(None), overlapping(model, valid_from, valid_to)
            )
            .order_by(model.valid_from)
        )
    )
    supersede(session, model, [row.id for row in old], now)
    for row in old:
        if row.valid_from < valid_from:
            session.add(_copy(row, model, {"valid_to": valid_from}, now, actor))
        if valid_to is not None and (row.valid_to is None or row.valid_to > valid_to):
            session.add(_copy(row, model, {"valid_from": valid_to}, now, actor))
    new: B | None = None
    if values is not None:
        fields: dict[str, Any] = {
            **key,
            **values,
            "valid_from": valid_from,
            "valid_to": valid_to,
            "recorded_at": now,
            "recorded_by": actor,
            "superseded_at": None,
        }
        new = model(**fields)
        session.add(new)
    session.flush()
    return old, new


def revise(
    session: Session,
    row: B,
    *,
    changes: Mapping[str, Any],
    now: datetime,
    actor: str,
) -> B:
    """Supersede the believed version ``row`` and insert a copy with ``changes``. Flushes."""
    model = type(row)
    supersede(session, model, [row.id], now)
    new = _copy(row, model, changes, now, actor)
    session.add(new)
    session.flush()
    return new


def end_lasting(
    session: Session,
    model: type[B],
    row_id: int,
    *,
    id_field: str,
    end_field: str,
    end: date,
    what: str,
    after: str,
    actor: str,
) -> B:
    """End the current, open-ended version ``row_id`` of ``model`` on ``end`` (exclusive).

    Validates before writing (``ValidationFailed`` naming ``id_field``/``end_field``): the row
    must be current and lasting, ``end`` not in the future and after its ``valid_from``. The
    ended version supersedes the open one (nothing is updated in place). Flushes.
    """
    from joinedup.core.clock import today, utcnow
    from joinedup.registries.service.checks import Problems, check_not_future, check_order, dates

    problems = Problems()
    row = session.get(model, row_id)
    if row is None or row.superseded_at is not None or row.valid_to is not None:
        problems.add(id_field, f"is not a current, lasting {what}")
        problems.raise_if_any()
    assert row is not None  # raise_if_any raised otherwise
    ends = dates([end])
    check_not_future(problems, end_field, ends, today())
    check_order(problems, end_field, dates([row.valid_from]), ends, after, strict=True)
    problems.raise_if_any()
    return revise(session, row, changes={"valid_to": end}, now=utcnow(), actor=actor)
