"""Reading the population register: a person, their residence, names and relations as of a
valid date and a known time (see :mod:`joinedup.registries.service.bitemporal`)."""

from __future__ import annotations

from datetime import date

import numpy as np
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.errors import NotFound
from joinedup.registries.codes import personal_code_prefixes
from joinedup.registries.models import (
    Address,
    Municipality,
    Person,
    PersonName,
    Relation,
    Residence,
)
from joinedup.registries.schemas import (
    NameRecord,
    PersonRecord,
    RelationKind,
    RelationRecord,
    ResidenceRecord,
    Sex,
)
from joinedup.registries.service.addresses import get_addresses
from joinedup.registries.service.bitemporal import Known, as_of, known_at, known_instant
from joinedup.registries.service.checks import dates


def load_person(session: Session, person_id: int) -> Person | None:
    """The person row (for this context's use cases; others get :class:`PersonRecord`)."""
    return session.get(Person, person_id)


def find_person_id(session: Session, *, personal_code: str) -> int:
    """The id of the person with ``personal_code`` (``NotFound`` if nobody has it)."""
    person_id = session.scalar(select(Person.id).where(Person.personal_code == personal_code))
    if person_id is None:
        raise NotFound("no person has this personal code")
    return int(person_id)


def municipality_code_of(session: Session, address_id: int) -> str | None:
    """The code of the municipality an address is in."""
    return session.scalar(
        select(Municipality.code)
        .join(Address, Address.municipality_id == Municipality.id)
        .where(Address.id == address_id)
    )


def _recorded_by(person: Person, known: Known) -> bool:
    if known is None:
        return True
    instant, inclusive = known_instant(known)
    return person.recorded_at <= instant if inclusive else person.recorded_at < instant


def _residences(
    session: Session, person_id: int, *, valid: date | None, known: Known
) -> list[ResidenceRecord]:
    rows = list(
        session.scalars(
            select(Residence)
            .where(Residence.person_id == person_id, as_of(Residence, valid=valid, known=known))
            .order_by(Residence.valid_from)
        )
    )
    addresses = get_addresses(session, address_ids=[r.address_id for r in rows])
    return [
        ResidenceRecord(
            id=r.id,
            person_id=r.person_id,
            address=addresses[r.address_id],
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            recorded_at=r.recorded_at,
        )
        for r in rows
    ]


def residence_of(
    session: Session, *, person_id: int, valid: date | None = None, known: Known = None
) -> ResidenceRecord | None:
    """Where the person lived on ``valid`` (default today) as known at ``known`` (default now)."""
    found = _residences(session, person_id, valid=valid or today(), known=known)
    return found[0] if found else None


def residence_history(
    session: Session, *, person_id: int, known: Known = None
) -> list[ResidenceRecord]:
    """Every residence of the person over time, as known at ``known``, oldest first."""
    return _residences(session, person_id, valid=None, known=known)


def name_history(session: Session, *, person_id: int, known: Known = None) -> list[NameRecord]:
    """Every name of the person over time, as known at ``known``, oldest first."""
    rows = session.scalars(
        select(PersonName)
        .where(PersonName.person_id == person_id, as_of(PersonName, valid=None, known=known))
        .order_by(PersonName.valid_from)
    )
    return [NameRecord.model_validate(r) for r in rows]


def get_person(
    session: Session,
    *,
    person_id: int | None = None,
    personal_code: str | None = None,
    valid: date | None = None,
    known: Known = None,
) -> PersonRecord:
    """A person with their name and residence on ``valid`` (default today), as the register
    knew them at ``known`` (default now). ``NotFound`` if the register did not know them then."""
    if person_id is None:
        if personal_code is None:
            raise NotFound("give a person id or a personal code")
        person_id = find_person_id(session, personal_code=personal_code)
    person = session.get(Person, person_id)
    if person is None or not _recorded_by(person, known):
        raise NotFound(f"person {person_id} is not registered")
    on = valid or today()
    name = session.scalar(
        select(PersonName).where(
            PersonName.person_id == person_id,
            as_of(PersonName, valid=max(on, person.birth_date), known=known),
        )
    )
    death_known = person.death_recorded_at is not None and (
        known is None or _death_known(person, known)
    )
    return PersonRecord(
        id=person.id,
        personal_code=person.personal_code,
        given_names=name.given_names if name else None,
        family_name=name.family_name if name else None,
        birth_date=person.birth_date,
        birth_place=person.birth_place,
        sex=Sex(person.sex),
        citizenship=person.citizenship,
        date_of_death=person.date_of_death if death_known else None,
        residence=residence_of(session, person_id=person_id, valid=on, known=known),
    )


def _death_known(person: Person, known: date | object) -> bool:
    assert person.death_recorded_at is not None
    instant, inclusive = known_instant(known)  # type: ignore[arg-type]
    recorded = person.death_recorded_at
    return recorded <= instant if inclusive else recorded < instant


def relations_of(
    session: Session,
    *,
    person_id: int,
    valid: date | None = None,
    known: Known = None,
    kinds: tuple[RelationKind, ...] | None = None,
) -> list[RelationRecord]:
    """The person's relations (both directions) valid on ``valid`` (None: at any time) as known
    at ``known``. For ``parent`` relations, ``person_id`` is the parent."""
    statement = select(Relation).where(
        or_(Relation.person_id == person_id, Relation.related_person_id == person_id),
        as_of(Relation, valid=valid, known=known),
    )
    if kinds:
        statement = statement.where(Relation.kind.in_([k.value for k in kinds]))
    rows = session.scalars(statement.order_by(Relation.valid_from, Relation.id))
    return [RelationRecord.model_validate(r) for r in rows]


def parents_of(session: Session, *, person_id: int, known: Known = None) -> list[int]:
    """Ids of the person's parents, as known at ``known``."""
    return list(
        session.scalars(
            select(Relation.person_id).where(
                Relation.related_person_id == person_id,
                Relation.kind == "parent",
                known_at(Relation, known),
            )
        )
    )


def children_of(session: Session, *, person_id: int, known: Known = None) -> list[int]:
    """Ids of the person's children, as known at ``known``."""
    return list(
        session.scalars(
            select(Relation.related_person_id).where(
                Relation.person_id == person_id,
                Relation.kind == "parent",
                known_at(Relation, known),
            )
        )
    )


def persons_born_on(session: Session, *, birth_date: date, alive: bool = True) -> list[int]:
    """Ids of the persons born on ``birth_date`` (e.g. who turns 18 today), by the personal
    codes' index: a code starts with the century-and-sex digit and the birth date."""
    prefixes = personal_code_prefixes(dates([birth_date, birth_date]), np.array(["M", "F"]))
    ranges = [
        and_(Person.personal_code >= f"{p}0000", Person.personal_code <= f"{p}9999")
        for p in prefixes.tolist()
    ]
    statement = select(Person.id).where(or_(*ranges))
    if alive:
        statement = statement.where(Person.date_of_death.is_(None))
    return list(session.scalars(statement.order_by(Person.id)))


def count_persons(session: Session, *, alive: bool | None = None) -> int:
    """How many persons the register holds (``alive`` True/False to count only those)."""
    statement = select(func.count()).select_from(Person)
    if alive is True:
        statement = statement.where(Person.date_of_death.is_(None))
    elif alive is False:
        statement = statement.where(Person.date_of_death.is_not(None))
    return int(session.scalar(statement) or 0)
