"""Loading many persons at once: the population register's batch import.

``import_population`` checks a whole batch with the same rules as the one-person use cases
(:mod:`joinedup.registries.service.rules`), then writes it with bulk inserts. Nothing is
written unless everything is valid, and the caller's transaction holds the batch, so a batch
is all or nothing. One ``population.imported.v1`` event describes the batch (see
:mod:`joinedup.registries.events` for why not one event per person).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.events import emit
from joinedup.registries.events import PopulationImported
from joinedup.registries.models import Address, Person, PersonName, Relation, Residence
from joinedup.registries.service.bulk import allocate_ids, insert_columns, or_none
from joinedup.registries.service.checks import Problems, check_one_of, check_unique
from joinedup.registries.service.lookups import member_of
from joinedup.registries.service.rules import (
    PersonColumns,
    check_no_overlap,
    check_parentage,
    check_persons,
    check_unions,
)


@dataclass(frozen=True, kw_only=True)
class RelationColumns:
    """Relations between persons of the same batch (``person``/``related`` are row indexes).

    ``kind`` parent: ``person`` is a parent of ``related``. ``kind`` spouse or partner: a
    marriage or registered partnership, ended when ``valid_to`` is set (with ``end_reason``).
    """

    kind: npt.NDArray[np.str_]
    person: npt.NDArray[np.int64]
    related: npt.NDArray[np.int64]
    valid_from: npt.NDArray[np.datetime64]
    valid_to: npt.NDArray[np.datetime64]
    end_reason: npt.NDArray[np.str_]  # "" while the relation lasts

    def __len__(self) -> int:
        return int(self.kind.shape[0])


def existing_personal_codes(session: Session, codes: npt.NDArray[np.str_]) -> list[str]:
    """Which of ``codes`` are registered already."""
    table = Person.__table__.c
    wanted = np.unique(codes).tolist()
    statement = select(table.personal_code).where(member_of(session, table.personal_code, wanted))
    return list(session.connection().execute(statement).scalars())


def existing_address_ids(session: Session, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Which of ``ids`` are registered addresses (sorted)."""
    table = Address.__table__.c
    wanted = np.unique(ids).tolist()
    statement = select(table.id).where(member_of(session, table.id, wanted)).order_by(table.id)
    return np.fromiter(session.connection().execute(statement).scalars(), dtype=np.int64)


def _check_relations(
    problems: Problems, persons: PersonColumns, relations: RelationColumns
) -> None:
    n = len(persons)
    check_one_of(problems, "kind", relations.kind, ("parent", "spouse", "partner"))
    bad_index = (
        (relations.person < 0)
        | (relations.person >= n)
        | (relations.related < 0)
        | (relations.related >= n)
    )
    if problems.check(bad_index, "person", "must be the row index of a person of this batch"):
        return
    problems.check(relations.person == relations.related, "related", "must be another person")
    birth, death = persons.birth_date, persons.date_of_death
    parent = relations.kind == "parent"
    check_parentage(
        problems.subset(parent),
        parent_birth=birth[relations.person[parent]],
        child_birth=birth[relations.related[parent]],
        valid_from=relations.valid_from[parent],
    )
    problems.check(
        parent & ~np.isnat(relations.valid_to), "valid_to", "parentage is not given an end here"
    )
    pairs = relations.person[parent] * n + relations.related[parent]
    check_unique(problems.subset(parent), "related", pairs)
    parents_per_child = np.bincount(relations.related[parent], minlength=n)
    problems.check(parents_per_child > 2, "related", "a person has at most two parents")
    union = ~parent
    a, b = relations.person[union], relations.related[union]
    check_unions(
        problems.subset(union),
        birth_a=birth[a],
        birth_b=birth[b],
        death_a=death[a],
        death_b=death[b],
        valid_from=relations.valid_from[union],
        valid_to=relations.valid_to[union],
        end_reason=relations.end_reason[union],
        today=today(),
    )
    union_rows = np.flatnonzero(union)
    check_no_overlap(
        problems.subset(np.concatenate([union_rows, union_rows])),
        "valid_from",
        np.concatenate([a, b]),
        np.concatenate([relations.valid_from[union], relations.valid_from[union]]),
        np.concatenate([relations.valid_to[union], relations.valid_to[union]]),
        "a person is in two marriages or partnerships at the same time",
    )


def validate_population(
    session: Session, persons: PersonColumns, relations: RelationColumns, problems: Problems
) -> None:
    """Every rule of the batch, the database lookups last (only when the rest is clean)."""
    check_persons(problems, persons, today())
    check_unique(problems, "personal_code", persons.personal_code)
    relation_problems = Problems("relations")
    _check_relations(relation_problems, persons, relations)
    problems.extend(relation_problems)
    if problems:
        return
    if existing_personal_codes(session, persons.personal_code):
        problems.add("personal_code", "some personal codes are already registered")
    wanted = persons.address_id[persons.address_id > 0]
    if wanted.size:
        found = existing_address_ids(session, wanted)
        problems.check(
            (persons.address_id > 0) & ~np.isin(persons.address_id, found),
            "address_id",
            "is not a registered address",
        )


def write_persons(
    session: Session, persons: PersonColumns, *, actor: str, now: datetime
) -> npt.NDArray[np.int64]:
    """Insert validated persons with their names and residences; returns their ids."""
    n = len(persons)
    ids = allocate_ids(session, Person, n)
    insert_columns(
        session,
        Person,
        {
            "id": ids,
            "personal_code": persons.personal_code,
            "birth_date": persons.birth_date,
            "birth_place": np.char.strip(persons.birth_place),
            "sex": persons.sex,
            "citizenship": persons.citizenship,
            "date_of_death": persons.date_of_death,
            "death_recorded_at": or_none(~np.isnat(persons.date_of_death), now),
            "recorded_at": now,
            "recorded_by": actor,
        },
    )
    changed = np.char.str_len(np.asarray(persons.birth_family_name, dtype=np.str_)) > 0
    nat = np.full(n, np.datetime64("NaT", "D"))
    name_person = np.concatenate([ids, ids[changed]])
    insert_columns(
        session,
        PersonName,
        {
            "person_id": name_person,
            "given_names": np.concatenate([persons.given_names, persons.given_names[changed]]),
            "family_name": np.concatenate(
                [
                    np.where(changed, persons.birth_family_name, persons.family_name),
                    persons.family_name[changed],
                ]
            ),
            "valid_from": np.concatenate([persons.birth_date, persons.name_changed_on[changed]]),
            "valid_to": np.concatenate(
                [np.where(changed, persons.name_changed_on, nat), nat[changed]]
            ),
            "recorded_at": now,
            "recorded_by": actor,
            "superseded_at": None,
        },
    )
    resident = persons.address_id > 0
    insert_columns(
        session,
        Residence,
        {
            "person_id": ids[resident],
            "address_id": persons.address_id[resident],
            "valid_from": persons.resident_since[resident],
            "valid_to": persons.date_of_death[resident],
            "recorded_at": now,
            "recorded_by": actor,
            "superseded_at": None,
        },
    )
    return ids


def _write_relations(
    session: Session,
    ids: npt.NDArray[np.int64],
    relations: RelationColumns,
    *,
    actor: str,
    now: datetime,
) -> None:
    first, second = ids[relations.person], ids[relations.related]
    union = relations.kind != "parent"
    swap = union & (first > second)  # spouses and partners: the lower id first
    reasons = np.asarray(relations.end_reason, dtype=object)
    reasons[np.char.str_len(np.asarray(relations.end_reason, dtype=np.str_)) == 0] = None
    insert_columns(
        session,
        Relation,
        {
            "kind": relations.kind,
            "person_id": np.where(swap, second, first),
            "related_person_id": np.where(swap, first, second),
            "valid_from": relations.valid_from,
            "valid_to": relations.valid_to,
            "end_reason": reasons,
            "recorded_at": now,
            "recorded_by": actor,
            "superseded_at": None,
        },
    )


def import_population(
    session: Session, *, persons: PersonColumns, relations: RelationColumns, actor: str
) -> npt.NDArray[np.int64]:
    """Register a batch of persons with their names, residences and relations, all or none.

    Returns the new person ids in input order. Emits one ``population.imported.v1``.
    """
    problems = Problems("persons")
    validate_population(session, persons, relations, problems)
    problems.raise_if_any()
    now = utcnow()
    ids = write_persons(session, persons, actor=actor, now=now)
    _write_relations(session, ids, relations, actor=actor, now=now)
    emit(
        session,
        PopulationImported(
            persons=len(persons),
            deceased=int((~np.isnat(persons.date_of_death)).sum()),
            relations=len(relations),
            residences=int((persons.address_id > 0).sum()),
            first_person_id=int(ids[0]) if ids.size else None,
            last_person_id=int(ids[-1]) if ids.size else None,
        ),
    )
    return ids
