"""Vectorised reference lookups for the batch rules: do these persons and businesses exist,
and what are their key dates.

:func:`member_of` writes ``column IN (…)`` for tens of thousands of values as *one* bound
parameter (a JSON array read by ``json_each`` on SQLite, an array with ``= ANY`` on
PostgreSQL): an ordinary ``IN`` list costs a parameter, and SQLAlchemy's processing of it,
per value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, String, Table, any_, bindparam, func, select, type_coerce
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import QueryableAttribute, Session

from joinedup.registries.models import Business, Person

Dates = npt.NDArray[np.datetime64]
Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Facts:
    """Per requested id: whether it exists, and two dates (NaT when unknown or missing)."""

    found: npt.NDArray[np.bool_]
    start: Dates  # birth date, or registration date of a business
    end: Dates  # date of death, or deregistration date


def member_of(
    session: Session,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    values: list[int] | list[str],
) -> ColumnElement[bool]:
    """``column IN values`` with the values as one parameter (see the module docstring)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    members = func.json_each(json.dumps(values)).table_valued("value")
    return column.in_(select(members.c.value))


def _facts(session: Session, table: Table, start: str, end: str, ids: Ints) -> Facts:
    """Existence and two dates per id, read through the Core (no ORM objects): dates come back
    as text on SQLite and are parsed by numpy, not one by one."""
    columns = table.c
    statement = (
        select(columns.id, type_coerce(columns[start], String), type_coerce(columns[end], String))
        .where(member_of(session, columns.id, np.unique(ids).tolist()))
        .order_by(columns.id)
    )
    rows = session.connection().execute(statement).all()
    nat = np.full(ids.shape[0], np.datetime64("NaT", "D"))
    if not rows:
        return Facts(np.zeros(ids.shape[0], dtype=np.bool_), nat, nat.copy())
    known_ids, starts, ends = zip(*rows, strict=True)
    found_ids = np.array(known_ids, dtype=np.int64)
    start_dates = np.array(starts, dtype="datetime64[D]")
    end_dates = np.array(ends, dtype="datetime64[D]")  # None becomes NaT
    position = np.clip(np.searchsorted(found_ids, ids), 0, found_ids.size - 1)
    found = found_ids[position] == ids
    return Facts(
        found,
        np.where(found, start_dates[position], nat),
        np.where(found, end_dates[position], nat),
    )


def person_facts(session: Session, ids: Ints) -> Facts:
    """Birth date and date of death of each person id."""
    return _facts(session, _table(Person), "birth_date", "date_of_death", ids)


def business_facts(session: Session, ids: Ints) -> Facts:
    """Registration and deregistration date of each business id."""
    return _facts(session, _table(Business), "registered_on", "deregistered_on", ids)


def _table(model: type[Person] | type[Business]) -> Table:
    return cast(Table, model.__table__)
