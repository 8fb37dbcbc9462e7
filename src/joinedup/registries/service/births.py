"""Many births at once: the civil-registration entry point's group commit.

A registrar's system registers births one request at a time, but a busy population register
receives many at the same moment; the exchange collects the calls of a few milliseconds and
registers them in one transaction (:mod:`joinedup.exchange.write_batcher`). Here each birth
of such a group is checked by the rules of :func:`~joinedup.registries.register_birth`, run
over the group's columns at once, and the valid ones are written with one insert per table.
Each birth still gets its own personal code, relations, residence and its own
``population.birth_registered.v1`` event.

A birth the group's checks refuse is then registered alone by ``register_birth`` (which
names the problem and writes nothing), so a refusal reads exactly as it does one at a time,
and one bad birth never holds back the others.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from joinedup.core.bulk_writes import parameter_marker
from joinedup.core.clock import today, utcnow
from joinedup.core.errors import ValidationFailed
from joinedup.core.events import emit_many
from joinedup.registries.codes import first_free_personal_code, personal_code_prefixes
from joinedup.registries.events import BirthRegistered
from joinedup.registries.iban import NATIONAL_COUNTRY
from joinedup.registries.models import Address, Municipality, Person, Relation, Residence
from joinedup.registries.service import issued_codes
from joinedup.registries.service.checks import Problems, check_not_future, dates
from joinedup.registries.service.population import register_birth
from joinedup.registries.service.population_import import write_persons
from joinedup.registries.service.rules import PersonColumns, check_parentage, check_persons

#: Personal codes encode birth dates from 1800 on.
EARLIEST_BIRTH = date(1800, 1, 1)


@dataclass(frozen=True, kw_only=True)
class BirthRegistration:
    """One birth to register: what :func:`~joinedup.registries.register_birth` takes."""

    given_names: str
    family_name: str
    birth_date: date
    sex: str
    birth_place: str
    parent_ids: tuple[int, ...]
    citizenship: str = NATIONAL_COUNTRY
    actor: str


@dataclass(frozen=True, kw_only=True)
class RegisteredBirth:
    """What was registered for one birth."""

    person_id: int
    personal_code: str
    parent_ids: tuple[int, ...]
    municipality_code: str | None


def register_births(
    session: Session, *, births: Sequence[BirthRegistration]
) -> list[RegisteredBirth | ValidationFailed]:
    """Register ``births`` in the session's transaction; one result per birth, in order.

    Changes: for each valid birth the person, the name, the parent relations and the residence
    (at the address of the parent who gave birth), and emits its
    ``population.birth_registered.v1``. A refused birth's result is the
    :class:`ValidationFailed` that ``register_birth`` raises for it; it writes nothing.
    """
    if not births:
        return []
    results: list[RegisteredBirth | ValidationFailed | None] = [None] * len(births)
    parents = _parents(session, births)
    alone: list[int] = []  # refused by the group's checks: registered one at a time
    grouped: list[int] = []
    on = today()
    for index, birth in enumerate(births):
        ids = birth.parent_ids
        if (
            not 1 <= len(ids) <= 2
            or len(set(ids)) != len(ids)
            or any(p not in parents for p in ids)
            or birth.sex not in ("F", "M")
            or not EARLIEST_BIRTH <= birth.birth_date <= on  # no code to issue
        ):
            alone.append(index)
        else:
            grouped.append(index)
    if grouped:
        residences = _residences(session, [births[i] for i in grouped])
        columns = _columns(session, [births[i] for i in grouped], residences)
        refused = _refused(columns, [births[i] for i in grouped], parents)
        keep = np.array([k not in refused for k in range(len(grouped))], dtype=np.bool_)
        alone += [grouped[k] for k in sorted(refused)]
        written = _write(
            session,
            [births[i] for i, kept in zip(grouped, keep, strict=True) if kept],
            _rows(columns, keep),
            [residences[k] for k in range(len(grouped)) if keep[k]],
        )
        for index, registered in zip(
            [i for i, kept in zip(grouped, keep, strict=True) if kept], written, strict=True
        ):
            results[index] = registered
    for index in sorted(alone):
        results[index] = _register_alone(session, births[index])
    return [result for result in results if result is not None]


def _register_alone(
    session: Session, birth: BirthRegistration
) -> RegisteredBirth | ValidationFailed:
    try:
        with session.begin_nested():
            child = register_birth(
                session,
                given_names=birth.given_names,
                family_name=birth.family_name,
                birth_date=birth.birth_date,
                sex=birth.sex,
                birth_place=birth.birth_place,
                parent_ids=list(birth.parent_ids),
                citizenship=birth.citizenship,
                actor=birth.actor,
            )
    except ValidationFailed as refused:
        return refused
    residence = child.residence
    return RegisteredBirth(
        person_id=child.id,
        personal_code=child.personal_code,
        parent_ids=tuple(birth.parent_ids),
        municipality_code=residence.address.municipality_code if residence else None,
    )


@dataclass(frozen=True)
class _Parent:
    birth_date: date
    date_of_death: date | None


_PERSONS = cast(Table, Person.__table__)


def _parents(session: Session, births: Sequence[BirthRegistration]) -> dict[int, _Parent]:
    wanted = sorted({p for birth in births for p in birth.parent_ids})
    if not wanted:
        return {}
    rows = session.connection().execute(
        select(_PERSONS.c.id, _PERSONS.c.birth_date, _PERSONS.c.date_of_death).where(
            _PERSONS.c.id.in_(bindparam("ids", expanding=True))
        ),
        {"ids": wanted},
    )
    return {int(row.id): _Parent(row.birth_date, row.date_of_death) for row in rows}


@dataclass(frozen=True)
class _Residence:
    address_id: int
    municipality_code: str


def _residences(session: Session, births: Sequence[BirthRegistration]) -> list[_Residence | None]:
    """Where the parent who gave birth lived on each birth date (as the register knows now)."""
    mothers = sorted({birth.parent_ids[0] for birth in births})
    residence, address = cast(Table, Residence.__table__), cast(Table, Address.__table__)
    municipality = cast(Table, Municipality.__table__)
    rows = session.connection().execute(
        select(
            residence.c.person_id,
            residence.c.address_id,
            residence.c.valid_from,
            residence.c.valid_to,
            municipality.c.code,
        )
        .join(address, address.c.id == residence.c.address_id)
        .join(municipality, municipality.c.id == address.c.municipality_id)
        .where(
            residence.c.person_id.in_(bindparam("ids", expanding=True)),
            residence.c.superseded_at.is_(None),
        ),
        {"ids": mothers},
    )
    periods: dict[int, list[Any]] = {}
    for row in rows:
        periods.setdefault(int(row.person_id), []).append(row)
    found: list[_Residence | None] = []
    for birth in births:
        on = birth.birth_date
        match = next(
            (
                row
                for row in periods.get(birth.parent_ids[0], ())
                if row.valid_from <= on and (row.valid_to is None or row.valid_to > on)
            ),
            None,
        )
        found.append(None if match is None else _Residence(int(match.address_id), match.code))
    return found


def _codes(session: Session, births: Sequence[BirthRegistration]) -> list[str]:
    """The next free personal codes, serials upwards per birth date and sex (several births
    of one day in the group take successive ones). The codes taken are read in one query:
    one indexed range per birth date and sex, from the last code this process saw issued
    (:mod:`~joinedup.registries.service.issued_codes`) on."""
    prefixes = [
        str(int(value))
        for value in personal_code_prefixes(
            dates([b.birth_date for b in births]), np.array([b.sex for b in births])
        ).tolist()
    ]
    wanted = list(dict.fromkeys(prefixes))
    marks = issued_codes.last_issued(session, wanted)
    taken_in = _taken_in(session, {prefix: marks.get(prefix) for prefix in wanted})
    stale = [p for p, mark in marks.items() if not any(int(c[7:10]) == mark for c in taken_in[p])]
    if stale:  # (its code is gone: the database was emptied under this process)
        for prefix in stale:
            issued_codes.forget(session, prefix)
        taken_in.update(_taken_in(session, dict.fromkeys(stale)))
        for prefix in stale:
            marks.pop(prefix)
    codes: list[str] = []
    for prefix in prefixes:
        taken = taken_in[prefix]
        issued = first_free_personal_code(prefix, taken, marks.get(prefix, 0)) or ""
        taken.add(issued)
        codes.append(issued)
    issued_codes.issued(session, [code for code in codes if code])
    return codes


def _taken_in(session: Session, marks: dict[str, int | None]) -> dict[str, set[str]]:
    """The codes issued for each prefix, from the one of serial ``marks[prefix]`` on (None:
    every one)."""
    bounds = {
        prefix: prefix + ("000" if mark is None else f"{mark:03d}")
        for prefix, mark in marks.items()
    }
    taken_in: dict[str, set[str]] = {prefix: set() for prefix in marks}
    for code in _taken_codes(session, bounds):
        taken_in[code[:7]].add(code)
    return taken_in


def _taken_codes(session: Session, lows: dict[str, str]) -> list[str]:
    """The codes between each ``lows`` value (a prefix and serial) and the prefix's last."""
    connection = session.connection()
    marker = parameter_marker(connection.dialect)
    if marker is None:  # another driver's parameter style: one bound select per prefix
        code = _PERSONS.c.personal_code
        found: list[str] = []
        for prefix, low in lows.items():
            found += connection.execute(
                select(code).where(code.between(low + "0", prefix + "9999"))
            ).scalars()
        return found
    ranges = " OR ".join(f"personal_code BETWEEN {marker} AND {marker}" for _ in lows)
    bounds = tuple(bound for prefix, low in lows.items() for bound in (low + "0", prefix + "9999"))
    # our own column and markers; the values are bound by the driver
    statement = f"SELECT personal_code FROM person WHERE {ranges}"  # noqa: S608
    return [row[0] for row in connection.exec_driver_sql(statement, bounds)]


def _columns(
    session: Session, births: Sequence[BirthRegistration], residences: Sequence[_Residence | None]
) -> PersonColumns:
    n = len(births)
    birth_dates = dates([b.birth_date for b in births])
    return PersonColumns(
        personal_code=np.array(_codes(session, births)),
        given_names=np.array([b.given_names for b in births]),
        family_name=np.array([b.family_name for b in births]),
        birth_family_name=np.full(n, ""),
        name_changed_on=dates([None] * n),
        birth_date=birth_dates,
        birth_place=np.array([b.birth_place for b in births]),
        sex=np.array([b.sex for b in births]),
        citizenship=np.array([b.citizenship for b in births]),
        date_of_death=dates([None] * n),
        address_id=np.array([r.address_id if r else 0 for r in residences], dtype=np.int64),
        resident_since=np.where(
            np.array([r is not None for r in residences]), birth_dates, np.datetime64("NaT", "D")
        ),
    )


def _rows(columns: PersonColumns, rows: npt.NDArray[Any]) -> PersonColumns:
    return PersonColumns(
        **{f.name: getattr(columns, f.name)[rows] for f in dataclasses.fields(PersonColumns)}
    )


def _refused(
    columns: PersonColumns, births: Sequence[BirthRegistration], parents: dict[int, _Parent]
) -> set[int]:
    """The rows (of the group) that break a rule of ``register_birth``: the rules run over
    the whole group; only when they find something do they run row by row to say which."""
    on = today()
    pair_child = np.array([k for k, b in enumerate(births) for _ in b.parent_ids], np.int64)
    pair_parent = dates([parents[p].birth_date for b in births for p in b.parent_ids])
    mother_death = dates([parents[b.parent_ids[0]].date_of_death for b in births])

    def check(problems: Problems, rows: npt.NDArray[np.int64]) -> None:
        check_persons(problems, _rows(columns, rows), on)
        births_of = columns.birth_date[rows]
        check_not_future(problems, "birth_date", births_of, on)
        pairs = np.isin(pair_child, rows)
        child_birth = columns.birth_date[pair_child[pairs]]
        check_parentage(
            problems,
            parent_birth=pair_parent[pairs],
            child_birth=child_birth,
            valid_from=child_birth,
            field="parent_ids",
        )
        died = mother_death[rows]
        problems.check(
            ~np.isnat(died) & (died < births_of),
            "parent_ids",
            "the parent who gave birth was not alive on the birth date",
        )

    return _rows_failing(len(births), check)


def _rows_failing(n: int, check: Callable[[Problems, npt.NDArray[np.int64]], None]) -> set[int]:
    everything = Problems()
    check(everything, np.arange(n, dtype=np.int64))
    if not everything:
        return set()
    failing = set()
    for row in range(n):
        alone = Problems()
        check(alone, np.array([row], dtype=np.int64))
        if alone:
            failing.add(row)
    return failing


def _write(
    session: Session,
    births: Sequence[BirthRegistration],
    columns: PersonColumns,
    residences: Sequence[_Residence | None],
) -> list[RegisteredBirth]:
    if not births:
        return []
    now = utcnow()
    ids = np.zeros(len(births), dtype=np.int64)
    actors = np.array([b.actor for b in births])
    for actor in dict.fromkeys(actors.tolist()):  # one registrar per group, as a rule
        rows = np.flatnonzero(actors == actor)
        ids[rows] = write_persons(session, _rows(columns, rows), actor=actor, now=now)
    person_ids = [int(i) for i in ids]
    session.connection().execute(
        insert(cast(Table, Relation.__table__)),
        [
            {
                "kind": "parent",
                "person_id": parent,
                "related_person_id": child,
                "valid_from": birth.birth_date,
                "valid_to": None,
                "end_reason": None,
                "recorded_at": now,
                "recorded_by": birth.actor,
                "superseded_at": None,
            }
            for birth, child in zip(births, person_ids, strict=True)
            for parent in birth.parent_ids
        ],
    )
    registered = [
        RegisteredBirth(
            person_id=child,
            personal_code=str(code),
            parent_ids=tuple(birth.parent_ids),
            municipality_code=residence.municipality_code if residence else None,
        )
        for birth, child, code, residence in zip(
            births, person_ids, columns.personal_code.tolist(), residences, strict=True
        )
    ]
    emit_many(
        session,
        [
            BirthRegistered(
                person_id=r.person_id,
                birth_date=birth.birth_date,
                parent_ids=r.parent_ids,
                municipality_code=r.municipality_code,
            )
            for r, birth in zip(registered, births, strict=True)
        ],
    )
    return registered
