"""Many deaths at once: the civil-registration entry point's group commit (see ``births``).

Each death of a group is what :func:`~joinedup.registries.register_death` would make of it:
the person's date of death, their residence ended on that day and their marriage or
partnership ended (``end_reason`` death), by superseding the believed versions and inserting
the ended copies (nothing is updated in place but the person's date of death), and its own
``population.death_registered.v1``. The group's deaths are read with one query per table
and written with one statement per table. A death that ``register_death`` might refuse or
that is not the common shape (the person dies twice in the group, both spouses die in it) is
registered alone by ``register_death``, whose refusal or registration is its result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.errors import ValidationFailed
from joinedup.core.events import emit_many
from joinedup.registries.events import DeathRegistered
from joinedup.registries.models import Person, Relation, Residence
from joinedup.registries.service.bulk import allocate_ids, insert_columns
from joinedup.registries.service.population import register_death

_PERSONS = cast(Table, Person.__table__)
_RESIDENCES = cast(Table, Residence.__table__)
_RELATIONS = cast(Table, Relation.__table__)
_UNIONS = ("spouse", "partner")


@dataclass(frozen=True, kw_only=True)
class DeathRegistration:
    """One death to register: what :func:`~joinedup.registries.register_death` takes."""

    person_id: int
    date_of_death: date
    actor: str


@dataclass(frozen=True, kw_only=True)
class RegisteredDeath:
    """What was registered for one death: the marriages or partnerships it ended."""

    person_id: int
    date_of_death: date
    ended_relation_ids: tuple[int, ...]


def register_deaths(
    session: Session, *, deaths: Sequence[DeathRegistration]
) -> list[RegisteredDeath | ValidationFailed]:
    """Register ``deaths`` in the session's transaction; one result per death, in order.

    Changes what ``register_death`` changes for each, and emits its
    ``population.death_registered.v1``; a refused death's result is the
    :class:`ValidationFailed` that ``register_death`` raises for it, and it writes nothing.
    """
    if not deaths:
        return []
    ids = sorted({d.person_id for d in deaths})
    connection = session.connection()
    persons = {
        int(row.id): row
        for row in connection.execute(
            select(_PERSONS.c.id, _PERSONS.c.birth_date, _PERSONS.c.date_of_death).where(
                _PERSONS.c.id.in_(bindparam("ids", expanding=True))
            ),
            {"ids": ids},
        )
    }
    residences: dict[int, list[Any]] = {}
    for row in connection.execute(
        select(_RESIDENCES).where(
            _RESIDENCES.c.person_id.in_(bindparam("ids", expanding=True)),
            _RESIDENCES.c.superseded_at.is_(None),
        ),
        {"ids": ids},
    ):
        residences.setdefault(int(row.person_id), []).append(row)
    unions: dict[int, list[Any]] = {}
    for row in connection.execute(
        select(_RELATIONS).where(
            _RELATIONS.c.kind.in_(_UNIONS),
            or_(
                _RELATIONS.c.person_id.in_(bindparam("ids", expanding=True)),
                _RELATIONS.c.related_person_id.in_(bindparam("ids", expanding=True)),
            ),
            _RELATIONS.c.superseded_at.is_(None),
            _RELATIONS.c.valid_to.is_(None),
        ),
        {"ids": ids},
    ):
        for person_id in (int(row.person_id), int(row.related_person_id)):
            unions.setdefault(person_id, []).append(row)

    on = today()
    grouped: list[int] = []
    alone: list[int] = []
    seen_persons: set[int] = set()
    seen_unions: set[int] = set()
    for index, death in enumerate(deaths):
        person = persons.get(death.person_id)
        day = death.date_of_death
        own_unions = unions.get(death.person_id, [])
        common = (
            person is not None
            and person.date_of_death is None
            and death.person_id not in seen_persons
            and person.birth_date <= day <= on
            and all(r.valid_from <= day for r in residences.get(death.person_id, []))
            and all(u.valid_from < day and u.id not in seen_unions for u in own_unions)
        )
        seen_persons.add(death.person_id)
        seen_unions.update(u.id for u in own_unions)
        (grouped if common else alone).append(index)

    results: list[RegisteredDeath | ValidationFailed | None] = [None] * len(deaths)
    for index, registered in zip(
        grouped,
        _write(session, [deaths[i] for i in grouped], residences, unions),
        strict=True,
    ):
        results[index] = registered
    for index in alone:
        results[index] = _register_alone(session, deaths[index])
    return [result for result in results if result is not None]


def _register_alone(
    session: Session, death: DeathRegistration
) -> RegisteredDeath | ValidationFailed:
    try:
        with session.begin_nested():
            register_death(
                session,
                person_id=death.person_id,
                date_of_death=death.date_of_death,
                actor=death.actor,
            )
    except ValidationFailed as refused:
        return refused
    ended = session.scalars(
        select(Relation.id).where(
            Relation.kind.in_(_UNIONS),
            or_(
                Relation.person_id == death.person_id, Relation.related_person_id == death.person_id
            ),
            Relation.superseded_at.is_(None),
            Relation.end_reason == "death",
            Relation.valid_to == death.date_of_death,
        )
    )
    return RegisteredDeath(
        person_id=death.person_id,
        date_of_death=death.date_of_death,
        ended_relation_ids=tuple(int(i) for i in ended),
    )


def _write(
    session: Session,
    deaths: Sequence[DeathRegistration],
    residences: dict[int, list[Any]],
    unions: dict[int, list[Any]],
) -> list[RegisteredDeath]:
    if not deaths:
        return []
    now = utcnow()
    connection = session.connection()
    # residences: the versions still valid on the day of death end on it
    ended_homes = [
        (row, death)
        for death in deaths
        for row in residences.get(death.person_id, [])
        if row.valid_to is None or row.valid_to > death.date_of_death
    ]
    copies = [(row, death) for row, death in ended_homes if row.valid_from < death.date_of_death]
    if ended_homes:
        connection.execute(
            update(_RESIDENCES)
            .where(
                _RESIDENCES.c.id.in_(bindparam("ids", expanding=True)),
                _RESIDENCES.c.superseded_at.is_(None),
            )
            .values(superseded_at=now),
            {"ids": [row.id for row, _ in ended_homes]},
        )
    if copies:
        insert_columns(
            session,
            Residence,
            {
                "person_id": np.array([row.person_id for row, _ in copies], dtype=np.int64),
                "address_id": np.array([row.address_id for row, _ in copies], dtype=np.int64),
                "valid_from": [row.valid_from for row, _ in copies],
                "valid_to": [death.date_of_death for _, death in copies],
                "recorded_at": now,
                "recorded_by": [death.actor for _, death in copies],
                "superseded_at": None,
            },
        )
    # marriages and partnerships: ended by the death
    ended_unions = [(row, death) for death in deaths for row in unions.get(death.person_id, [])]
    new_ids = allocate_ids(session, Relation, len(ended_unions)).tolist()
    if ended_unions:
        connection.execute(
            update(_RELATIONS)
            .where(
                _RELATIONS.c.id.in_(bindparam("ids", expanding=True)),
                _RELATIONS.c.superseded_at.is_(None),
            )
            .values(superseded_at=now),
            {"ids": [row.id for row, _ in ended_unions]},
        )
        insert_columns(
            session,
            Relation,
            {
                "id": np.array(new_ids, dtype=np.int64),
                "kind": [row.kind for row, _ in ended_unions],
                "person_id": np.array([row.person_id for row, _ in ended_unions], np.int64),
                "related_person_id": np.array(
                    [row.related_person_id for row, _ in ended_unions], np.int64
                ),
                "valid_from": [row.valid_from for row, _ in ended_unions],
                "valid_to": [death.date_of_death for _, death in ended_unions],
                "end_reason": "death",
                "recorded_at": now,
                "recorded_by": [death.actor for _, death in ended_unions],
                "superseded_at": None,
            },
        )
    ended_by: dict[int, list[int]] = {}
    for (_, death), new_id in zip(ended_unions, new_ids, strict=True):
        ended_by.setdefault(death.person_id, []).append(int(new_id))
    connection.execute(
        update(_PERSONS)
        .where(_PERSONS.c.id == bindparam("person"))
        .values(date_of_death=bindparam("day"), death_recorded_at=bindparam("now")),
        [{"person": d.person_id, "day": d.date_of_death, "now": now} for d in deaths],
    )
    session.expire_all()  # persons the session holds must not keep their old state
    registered = [
        RegisteredDeath(
            person_id=d.person_id,
            date_of_death=d.date_of_death,
            ended_relation_ids=tuple(ended_by.get(d.person_id, ())),
        )
        for d in deaths
    ]
    emit_many(
        session,
        [
            DeathRegistered(
                person_id=r.person_id,
                date_of_death=r.date_of_death,
                ended_relation_ids=r.ended_relation_ids,
            )
            for r in registered
        ],
    )
    return registered
