"""Bulk extracts of the population register: a range of persons (by register reference) with
the facts the rules read, and everyone living with them, so that each household is whole —
for re-evaluating a whole population when a law changes; or the same of chosen persons (the
households of a batch of life events: the newborns', say).

The extract is published as the exchange's ``population-extract`` service: reading it is a
mediated call that leaves a data-usage record for every person in the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Date, bindparam, func, select, text
from sqlalchemy.orm import Session

from joinedup.registries.models import Person

# Residences open on :day (and still believed) — the household a person belongs to that day.
_OPEN = (
    "r.superseded_at IS NULL AND r.valid_from <= :day AND (r.valid_to IS NULL OR r.valid_to > :day)"
)


def _extract(chosen: str) -> str:
    """The extract's query: the persons ``chosen`` (a condition on their reference, written
    ``{column}``) and everyone else living at their residence addresses."""
    return f"""
    WITH homes AS (
        SELECT DISTINCT r.address_id FROM residence r
         WHERE {chosen.format(column="r.person_id")} AND {_OPEN}
    )
    SELECT p.id, p.personal_code, p.birth_date, p.date_of_death, r.address_id
      FROM person p
      LEFT JOIN residence r ON r.person_id = p.id AND {_OPEN}
     WHERE {chosen.format(column="p.id")}
    UNION ALL
    SELECT p.id, p.personal_code, p.birth_date, p.date_of_death, r.address_id
      FROM homes h
      JOIN residence r ON r.address_id = h.address_id
      JOIN person p ON p.id = r.person_id
     WHERE {_OPEN} AND NOT ({chosen.format(column="r.person_id")})
    """  # noqa: S608 (our own text: every value is bound)


_EXTRACT = text(_extract("{column} >= :lo AND {column} < :hi")).bindparams(
    bindparam("day", type_=Date())
)
_EXTRACT_OF = text(_extract("{column} IN :refs")).bindparams(
    bindparam("day", type_=Date()), bindparam("refs", expanding=True)
)


_PARENTS = text(
    """
    SELECT r.related_person_id, r.person_id FROM relation r
     WHERE r.kind = 'parent' AND r.related_person_id IN :children
       AND r.superseded_at IS NULL AND r.valid_from <= :day
       AND (r.valid_to IS NULL OR r.valid_to > :day)
     ORDER BY r.id
    """
).bindparams(bindparam("children", expanding=True), bindparam("day", type_=Date()))
#: Persons per query of their parents (under the drivers' limit of bound parameters).
_PARENTS_PER_QUERY = 20_000


@dataclass(frozen=True)
class PopulationExtract:
    """Column lists, one entry per person: register reference, personal code, birth date and
    date of death (ISO), the register reference of the residence address on the day
    (``None``: no residence) and the references of the person's parents."""

    person_ref: list[int]
    personal_code: list[str]
    birth_date: list[str]
    date_of_death: list[str | None]
    address_ref: list[int | None]
    #: The register references of each person's parents on the day (current relations), in
    #: the order they were registered: first the parent who gave birth.
    parent_refs: list[list[int]]
    #: Whether each person is in the range asked for (else a co-resident of someone who is).
    in_range: list[bool]

    def __len__(self) -> int:
        return len(self.person_ref)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else value.isoformat()


def population_extract(
    session: Session, *, first_ref: int, end_ref: int, on: date
) -> PopulationExtract:
    """The persons with register references in ``[first_ref, end_ref)`` and everyone who lives
    at their residence addresses on ``on``, ordered by reference. Reads only."""
    # fetchall: one call to the driver for the rows, not one per row (a chunk has 50,000)
    rows = session.connection().execute(_EXTRACT, {"lo": first_ref, "hi": end_ref, "day": on})
    return _columns(session, rows.fetchall(), on, lambda ref: first_ref <= ref < end_ref)


def population_extract_of(
    session: Session, *, person_refs: Collection[int], on: date
) -> PopulationExtract:
    """The persons with the register references ``person_refs`` (a few thousand at most: each
    is bound three times) and everyone who lives at their residence addresses on ``on``,
    ordered by reference (``in_range``: one of those asked for). Reads only."""
    wanted = sorted(set(person_refs))
    if not wanted:
        return _columns(session, [], on, lambda ref: False)
    rows = session.connection().execute(_EXTRACT_OF, {"refs": wanted, "day": on})
    chosen = set(wanted)
    return _columns(session, rows.fetchall(), on, chosen.__contains__)


def _columns(
    session: Session, rows: Sequence[Any], on: date, chosen: Callable[[int], bool]
) -> PopulationExtract:
    """The extract of ``rows`` (``(ref, code, birth, death, address)``, a person's last
    row counting), with each person's parents on ``on`` read here."""
    found = sorted({row[0]: row for row in rows}.values(), key=lambda row: row[0])
    refs = [int(row[0]) for row in found]
    parents: dict[int, list[int]] = {}
    connection = session.connection()
    for start in range(0, len(refs), _PARENTS_PER_QUERY):
        chunk = refs[start : start + _PARENTS_PER_QUERY]
        for child, parent in connection.execute(
            _PARENTS, {"children": chunk, "day": on}
        ).fetchall():
            parents.setdefault(int(child), []).append(int(parent))
    return PopulationExtract(
        person_ref=refs,
        personal_code=[row[1] for row in found],
        birth_date=[_iso(row[2]) or "" for row in found],
        date_of_death=[_iso(row[3]) for row in found],
        address_ref=[row[4] for row in found],
        parent_refs=[parents.get(ref, []) for ref in refs],
        in_range=[chosen(ref) for ref in refs],
    )


def person_reference_range(session: Session) -> tuple[int, int]:
    """The lowest and highest register reference of a person (``(0, -1)`` when the register
    is empty): how a bulk job plans its ranges. No personal data."""
    low, high = session.execute(select(func.min(Person.id), func.max(Person.id))).one()
    if low is None or high is None:
        return 0, -1
    return int(low), int(high)
