"""The population register's one-person use cases: register a person, a birth, a death, a name."""

from __future__ import annotations

from datetime import date
from functools import cache

import numpy as np
from sqlalchemy import Select, bindparam, insert, select
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.events import emit
from joinedup.registries.codes import issuable_personal_codes, personal_code_prefixes
from joinedup.registries.events import (
    BirthRegistered,
    DeathRegistered,
    NameChanged,
    PersonRegistered,
)
from joinedup.registries.iban import NATIONAL_COUNTRY
from joinedup.registries.models import Person, PersonName, Relation, Residence
from joinedup.registries.schemas import PersonRecord, Sex
from joinedup.registries.service import bitemporal
from joinedup.registries.service.checks import (
    Problems,
    check_not_future,
    check_order,
    check_text,
    dates,
)
from joinedup.registries.service.population_import import (
    existing_address_ids,
    existing_personal_codes,
    write_persons,
)
from joinedup.registries.service.queries import get_person, load_person, municipality_code_of
from joinedup.registries.service.rules import PersonColumns, check_parentage, check_persons


@cache
def _codes_between() -> Select[str]:
    """Built once (Core, no ORM): the codes of one birth date and sex already issued."""
    code = Person.__table__.c.personal_code
    return select(code).where(code >= bindparam("low"), code <= bindparam("high"))


def issue_personal_code(session: Session, *, birth_date: date, sex: Sex | str) -> str:
    """The next free personal code for a birth date and sex (serials are issued upwards)."""
    prefix = str(int(personal_code_prefixes(dates([birth_date]), np.array([str(sex)]))[0]))
    taken = set(
        session.connection()
        .execute(_codes_between(), {"low": prefix + "0000", "high": prefix + "9999"})
        .scalars()
    )
    for code in issuable_personal_codes(prefix):
        if code not in taken:
            return code
    raise RuntimeError("every personal code of this birth date and sex is taken")


def _one_person(
    *,
    personal_code: str,
    given_names: str,
    family_name: str,
    birth_date: date,
    birth_place: str,
    sex: str,
    citizenship: str,
    address_id: int | None,
    resident_since: date | None,
) -> PersonColumns:
    return PersonColumns(
        personal_code=np.array([personal_code]),
        given_names=np.array([given_names]),
        family_name=np.array([family_name]),
        birth_family_name=np.array([""]),
        name_changed_on=dates([None]),
        birth_date=dates([birth_date]),
        birth_place=np.array([birth_place]),
        sex=np.array([str(sex)]),
        citizenship=np.array([citizenship]),
        date_of_death=dates([None]),
        address_id=np.array([address_id or 0], dtype=np.int64),
        resident_since=dates([resident_since if address_id else None]),
    )


def _check_one(problems: Problems, persons: PersonColumns, *, issued: bool) -> None:
    """The person rules for one person. When the register was to issue the code but could
    not (an unknown sex, a future birth date), only the cause is reported, not the code."""
    found = Problems()
    check_persons(found, persons, today())
    for item in found.items:
        if not (issued and item["field"] == "personal_code" and not persons.personal_code[0]):
            problems.items.append(item)


def _check_references(session: Session, problems: Problems, persons: PersonColumns) -> None:
    if existing_personal_codes(session, persons.personal_code):
        problems.add("personal_code", "is already registered to another person")
    wanted = persons.address_id[persons.address_id > 0]
    if wanted.size and existing_address_ids(session, wanted).size != np.unique(wanted).size:
        problems.add("address_id", "is not a registered address")


def register_person(
    session: Session,
    *,
    given_names: str,
    family_name: str,
    birth_date: date,
    sex: Sex | str,
    birth_place: str,
    citizenship: str,
    personal_code: str | None = None,
    address_id: int | None = None,
    resident_since: date | None = None,
    actor: str,
) -> PersonRecord:
    """Enter a person not born here (immigration) or not yet in the register (first load).

    Without ``personal_code`` the register issues one. Writes the person, their name from
    birth, and their residence from ``resident_since``; emits ``population.person_registered.v1``.
    """
    problems = Problems()
    given_code = personal_code
    if personal_code is None and sex in ("F", "M") and birth_date <= today():
        personal_code = issue_personal_code(session, birth_date=birth_date, sex=sex)
    persons = _one_person(
        personal_code=personal_code or "",
        given_names=given_names,
        family_name=family_name,
        birth_date=birth_date,
        birth_place=birth_place,
        sex=str(sex),
        citizenship=citizenship,
        address_id=address_id,
        resident_since=resident_since,
    )
    _check_one(problems, persons, issued=given_code is None)
    if not problems:
        _check_references(session, problems, persons)
    problems.raise_if_any()
    person_id = int(write_persons(session, persons, actor=actor, now=utcnow())[0])
    emit(
        session,
        PersonRegistered(
            person_id=person_id,
            resident_since=resident_since if address_id else None,
            municipality_code=municipality_code_of(session, address_id) if address_id else None,
        ),
    )
    return get_person(session, person_id=person_id)


def register_birth(
    session: Session,
    *,
    given_names: str,
    family_name: str,
    birth_date: date,
    sex: Sex | str,
    birth_place: str,
    parent_ids: list[int],
    citizenship: str = NATIONAL_COUNTRY,
    actor: str,
) -> PersonRecord:
    """Register a child born here to one or two registered parents; the first parent is the
    one who gave birth, and the child is resident at that parent's address.

    Issues the personal code; writes the person, the name, the parent relations (from the
    birth) and the residence; emits ``population.birth_registered.v1``.
    """
    problems = Problems()
    if not 1 <= len(parent_ids) <= 2 or len(set(parent_ids)) != len(parent_ids):
        problems.add("parent_ids", "name one or two different parents")
    parents = [load_person(session, pid) for pid in dict.fromkeys(parent_ids)]
    if any(p is None for p in parents):
        problems.add("parent_ids", "names a person who is not registered")
    problems.raise_if_any()
    known_parents = [p for p in parents if p is not None]
    birth = dates([birth_date])
    check_parentage(
        problems,
        parent_birth=dates([p.birth_date for p in known_parents]),
        child_birth=np.repeat(birth, len(known_parents)),
        valid_from=np.repeat(birth, len(known_parents)),
        field="parent_ids",
    )
    mother = known_parents[0]
    if mother.date_of_death is not None and mother.date_of_death < birth_date:
        problems.add("parent_ids", "the parent who gave birth was not alive on the birth date")
    residence = session.scalar(
        select(Residence).where(
            Residence.person_id == mother.id,
            bitemporal.as_of(Residence, valid=birth_date, known=None),
        )
    )
    check_not_future(problems, "birth_date", birth, today())
    problems.raise_if_any()
    code = (
        issue_personal_code(session, birth_date=birth_date, sex=sex)
        if str(sex) in ("F", "M")
        else ""
    )
    persons = _one_person(
        personal_code=code,
        given_names=given_names,
        family_name=family_name,
        birth_date=birth_date,
        birth_place=birth_place,
        sex=str(sex),
        citizenship=citizenship,
        address_id=residence.address_id if residence else None,
        resident_since=birth_date,
    )
    _check_one(problems, persons, issued=True)
    problems.raise_if_any()
    now = utcnow()
    person_id = int(write_persons(session, persons, actor=actor, now=now)[0])
    # Core, not the ORM: a registrar's system registers births one request at a time, and the
    # unit of work's bookkeeping cost more than the insert (nothing here reads the rows back).
    session.execute(
        insert(Relation),
        [
            {
                "kind": "parent",
                "person_id": parent.id,
                "related_person_id": person_id,
                "valid_from": birth_date,
                "valid_to": None,
                "end_reason": None,
                "recorded_at": now,
                "recorded_by": actor,
                "superseded_at": None,
            }
            for parent in known_parents
        ],
    )
    child = get_person(session, person_id=person_id)
    emit(
        session,
        BirthRegistered(
            person_id=person_id,
            birth_date=birth_date,
            parent_ids=tuple(p.id for p in known_parents),
            # the child lives where the parent who gave birth lived then (its one residence)
            municipality_code=(
                child.residence.address.municipality_code if child.residence else None
            ),
        ),
    )
    return child


def register_death(
    session: Session, *, person_id: int, date_of_death: date, actor: str
) -> PersonRecord:
    """Record a death. Ends the person's residence and their marriage or partnership on that
    date (``end_reason`` death); emits ``population.death_registered.v1``."""
    problems = Problems()
    person = load_person(session, person_id)
    if person is None:
        problems.add("person_id", "is not a registered person")
        problems.raise_if_any()
    assert person is not None
    if person.date_of_death is not None:
        problems.add("person_id", "the person's death is already registered")
    death = dates([date_of_death])
    check_not_future(problems, "date_of_death", death, today())
    check_order(
        problems, "date_of_death", dates([person.birth_date]), death, "is before the birth date"
    )
    later_move = session.scalar(
        select(Residence.id).where(
            Residence.person_id == person_id,
            Residence.superseded_at.is_(None),
            Residence.valid_from > date_of_death,
        )
    )
    if later_move:
        problems.add(
            "date_of_death", "is before a registered move of the person; correct that first"
        )
    unions = list(
        session.scalars(
            select(Relation).where(
                Relation.kind.in_(("spouse", "partner")),
                (Relation.person_id == person_id) | (Relation.related_person_id == person_id),
                Relation.superseded_at.is_(None),
                Relation.valid_to.is_(None),
            )
        )
    )
    if any(u.valid_from >= date_of_death for u in unions):
        problems.add("date_of_death", "is on or before the start of the person's marriage")
    problems.raise_if_any()
    now = utcnow()
    bitemporal.replace_period(
        session,
        Residence,
        key={"person_id": person_id},
        valid_from=date_of_death,
        valid_to=None,
        values=None,
        now=now,
        actor=actor,
    )
    ended = [
        bitemporal.revise(
            session,
            union,
            changes={"valid_to": date_of_death, "end_reason": "death"},
            now=now,
            actor=actor,
        )
        for union in unions
    ]
    person.date_of_death = date_of_death
    person.death_recorded_at = now
    session.flush()
    emit(
        session,
        DeathRegistered(
            person_id=person_id,
            date_of_death=date_of_death,
            ended_relation_ids=tuple(r.id for r in ended),
        ),
    )
    return get_person(session, person_id=person_id)


def change_name(
    session: Session,
    *,
    person_id: int,
    given_names: str,
    family_name: str,
    valid_from: date,
    actor: str,
) -> PersonRecord:
    """Register a change of name from ``valid_from`` on. Supersedes the name versions from
    that date and inserts the new one; emits ``population.name_changed.v1``."""
    problems = Problems()
    person = load_person(session, person_id)
    if person is None:
        problems.add("person_id", "is not a registered person")
        problems.raise_if_any()
    assert person is not None
    check_text(problems, "given_names", np.array([given_names]), max_length=200)
    check_text(problems, "family_name", np.array([family_name]), max_length=200)
    start = dates([valid_from])
    check_not_future(problems, "valid_from", start, today())
    check_order(
        problems, "valid_from", dates([person.birth_date]), start, "is before the birth date"
    )
    if person.date_of_death is not None and valid_from > person.date_of_death:
        problems.add("valid_from", "is after the person's death")
    problems.raise_if_any()
    bitemporal.replace_period(
        session,
        PersonName,
        key={"person_id": person_id},
        valid_from=valid_from,
        valid_to=None,
        values={"given_names": given_names.strip(), "family_name": family_name.strip()},
        now=utcnow(),
        actor=actor,
    )
    emit(session, NameChanged(person_id=person_id, valid_from=valid_from))
    return get_person(session, person_id=person_id)
