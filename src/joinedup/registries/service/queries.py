"""Reading the population register: a person, their residence, names and relations as of a
valid date and a known time (see :mod:`joinedup.registries.service.bitemporal`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from functools import cache
from typing import Any

import numpy as np
from sqlalchemy import Date, Integer, Select, and_, bindparam, case, func, or_, select
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.db import transaction_memo
from joinedup.core.errors import NotFound
from joinedup.registries.codes import personal_code_prefixes
from joinedup.registries.models import (
    Address,
    Municipality,
    Person,
    PersonName,
    Region,
    Relation,
    Residence,
)
from joinedup.registries.schemas import (
    AddressRecord,
    NameRecord,
    PersonRecord,
    RelationKind,
    RelationRecord,
    ResidenceRecord,
    Sex,
)
from joinedup.registries.service.bitemporal import (
    Known,
    as_of,
    known_at,
    known_instant,
    valid_on,
)
from joinedup.registries.service.checks import dates


def load_person(session: Session, person_id: int) -> Person | None:
    """The person row (for this context's use cases; others get :class:`PersonRecord`)."""
    return session.get(Person, person_id)


#: ``Session.info`` key of the person ids found in the session's current transaction (a
#: batch of life events asks for the same persons' ids dozens of times; a code never moves
#: to another person).
_IDS_FOUND = "joinedup.registries.person_ids"


def find_person_id(session: Session, *, personal_code: str) -> int:
    """The id of the person with ``personal_code`` (``NotFound`` if nobody has it)."""
    found = transaction_memo(session, _IDS_FOUND)
    person_id: int | None = found.get(personal_code)
    if person_id is None:
        row = session.connection().execute(_id_by_code(), {"code": personal_code}).first()
        if row is None:
            raise NotFound("no person has this personal code")
        found[personal_code] = person_id = int(row.id)
    return person_id


def codes_and_birth_dates(
    session: Session, *, person_ids: Sequence[int], known: Known = None
) -> dict[int, tuple[str, date]]:
    """The personal code and birth date of each of these persons, as the register knew them
    at ``known`` (default now), in one select; ``NotFound`` if it did not know one of them
    then (as :func:`get_person` for each)."""
    wanted = sorted(set(person_ids))
    if not wanted:
        return {}
    rows = session.connection().execute(_codes_and_birth_dates(), {"ids": wanted})
    found = {
        int(row.id): (row.personal_code, row.birth_date)
        for row in rows
        if _recorded_by(row.recorded_at, known)
    }
    if missing := [person_id for person_id in wanted if person_id not in found]:
        raise NotFound(f"person {missing[0]} is not registered")
    return found


def personal_codes_of(session: Session, *, person_ids: Sequence[int]) -> dict[int, str]:
    """The personal codes of the persons with these register references (the ids the
    registries' events carry); unknown ids are left out."""
    if not person_ids:
        return {}
    wanted = sorted(set(person_ids))
    if len(wanted) == 1:  # an event's person, resolved through the exchange
        rows = session.connection().execute(_code_by_id(), {"id": wanted[0]})
    else:
        rows = session.connection().execute(_codes_by_id(), {"ids": wanted})
    codes = {int(person_id): code for person_id, code in rows}
    # the registry answers about them that follow find their ids without a query
    transaction_memo(session, _IDS_FOUND).update({code: id_ for id_, code in codes.items()})
    return codes


@cache
def _codes_and_birth_dates() -> Select[int, str, date, datetime]:
    """Built once: a relations answer names the relatives with it."""
    return select(Person.id, Person.personal_code, Person.birth_date, Person.recorded_at).where(
        Person.id.in_(bindparam("ids", expanding=True))
    )


@cache
def _code_by_id() -> Select[int, str]:
    """Built once: one reference (an expanding ``IN`` would render its SQL on every call)."""
    return select(Person.id, Person.personal_code).where(Person.id == bindparam("id"))


@cache
def _codes_by_id() -> Select[int, str]:
    """Built once: the life-event routing resolves the events' references with it."""
    return select(Person.id, Person.personal_code).where(
        Person.id.in_(bindparam("ids", expanding=True))
    )


def person_ids_of(session: Session, *, personal_codes: Sequence[str]) -> dict[str, int]:
    """The register references of the persons with these personal codes (one query); unknown
    codes are left out."""
    if not personal_codes:
        return {}
    rows = session.connection().execute(_ids_by_code(), {"codes": sorted(set(personal_codes))})
    return {code: int(person_id) for code, person_id in rows}


@cache
def _id_by_code() -> Select[int]:
    """Built once: every registry answer finds its data subject with it (one code: an
    expanding ``IN`` would render its SQL again on every call)."""
    return select(Person.id).where(Person.personal_code == bindparam("code"))


@cache
def _ids_by_code() -> Select[str, int]:
    """Built once: a civil-registration call resolves its persons with it."""
    return select(Person.personal_code, Person.id).where(
        Person.personal_code.in_(bindparam("codes", expanding=True))
    )


def municipality_code_of(session: Session, address_id: int) -> str | None:
    """The code of the municipality an address is in."""
    return session.scalar(
        select(Municipality.code)
        .join(Address, Address.municipality_id == Municipality.id)
        .where(Address.id == address_id)
    )


def _recorded_by(recorded_at: datetime, known: Known) -> bool:
    if known is None:
        return True
    instant, inclusive = known_instant(known)
    return recorded_at <= instant if inclusive else recorded_at < instant


def _residence_select(known: Known) -> Select[*tuple[Any, ...]]:
    """Residences joined to their addresses; the valid day, when given, is the ``on`` bind."""
    return (
        select(
            Residence.id,
            Residence.valid_from,
            Residence.valid_to,
            Residence.recorded_at,
            Address.id.label("address_id"),
            Address.street,
            Address.house_number,
            Address.apartment,
            Address.postcode,
            Municipality.code.label("municipality_code"),
            Municipality.name.label("municipality_name"),
            Region.code.label("region_code"),
        )
        .join(Address, Address.id == Residence.address_id)
        .join(Municipality, Address.municipality_id == Municipality.id)
        .join(Region, Municipality.region_id == Region.id)
        .where(Residence.person_id == bindparam("person_id"), known_at(Residence, known))
        .order_by(Residence.valid_from)
    )


@cache
def _current_residence_select() -> Select[*tuple[Any, ...]]:
    """Built once (its SQL is compiled once): the residence valid on ``on`` as known now."""
    on = bindparam("on", type_=Date())
    return _residence_select(None).where(valid_on(Residence, on))


def _residences(
    session: Session, person_id: int, *, valid: date | None, known: Known
) -> list[ResidenceRecord]:
    """The residences with their addresses: one indexed Core select (no ORM objects)."""
    parameters: dict[str, Any] = {"person_id": person_id}
    if known is None and valid is not None:
        statement = _current_residence_select()
        parameters["on"] = valid
    else:
        statement = _residence_select(known)
        if valid is not None:
            statement = statement.where(valid_on(Residence, valid))
    rows = session.connection().execute(statement, parameters)
    return [
        ResidenceRecord(
            id=row.id,
            person_id=person_id,
            address=AddressRecord(
                id=row.address_id,
                street=row.street,
                house_number=row.house_number,
                apartment=row.apartment,
                postcode=row.postcode,
                municipality_code=row.municipality_code,
                municipality_name=row.municipality_name,
                region_code=row.region_code,
            ),
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            recorded_at=row.recorded_at,
        )
        for row in rows
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


_PERSON_COLUMNS = (
    Person.id,
    Person.personal_code,
    Person.birth_date,
    Person.birth_place,
    Person.sex,
    Person.citizenship,
    Person.date_of_death,
    Person.recorded_at,
    Person.death_recorded_at,
)


def _person_select(known: Known, *, by_code: bool) -> Select[*tuple[Any, ...]]:
    """The person (by the ``key`` bind: personal code or id) with their name on the ``on``
    bind, or at birth for a day before it (``max(on, birth_date)``)."""
    on = bindparam("on", type_=Date())
    name_day = case((Person.birth_date > on, Person.birth_date), else_=on)
    name_join = and_(
        PersonName.person_id == Person.id,
        known_at(PersonName, known),
        PersonName.valid_from <= name_day,
        or_(PersonName.valid_to.is_(None), PersonName.valid_to > name_day),
    )
    key = Person.personal_code if by_code else Person.id
    return (
        select(*_PERSON_COLUMNS, PersonName.given_names, PersonName.family_name)
        .outerjoin(PersonName, name_join)
        .where(key == bindparam("key"))
        .limit(1)
    )


@cache
def _current_person_select(*, by_code: bool) -> Select[*tuple[Any, ...]]:
    """Built once (its SQL is compiled once): the person as the register knows them now."""
    return _person_select(None, by_code=by_code)


def get_person(
    session: Session,
    *,
    person_id: int | None = None,
    personal_code: str | None = None,
    valid: date | None = None,
    known: Known = None,
    residence: bool = True,
) -> PersonRecord:
    """A person with their name and residence on ``valid`` (default today), as the register
    knew them at ``known`` (default now). ``NotFound`` if the register did not know them then.
    Without ``residence`` the residence is not read (``residence`` None): for a caller that
    does not show it.

    Two indexed Core selects (the person with their name, then the residence with its
    address), no ORM objects: this is the hot read of the data exchange."""
    if person_id is None and personal_code is None:
        raise NotFound("give a person id or a personal code")
    on = valid or today()
    if known is None:
        statement = _current_person_select(by_code=person_id is None)
    else:
        statement = _person_select(known, by_code=person_id is None)
    key = personal_code if person_id is None else person_id
    row = session.connection().execute(statement, {"key": key, "on": on}).first()
    if row is None:
        if person_id is None:
            raise NotFound("no person has this personal code")
        raise NotFound(f"person {person_id} is not registered")
    if not _recorded_by(row.recorded_at, known):
        raise NotFound(f"person {row.id} is not registered")
    death_known = row.death_recorded_at is not None and (
        known is None or _death_known(row.death_recorded_at, known)
    )
    found = _residences(session, row.id, valid=on, known=known) if residence else []
    return PersonRecord(
        id=row.id,
        personal_code=row.personal_code,
        given_names=row.given_names,
        family_name=row.family_name,
        birth_date=row.birth_date,
        birth_place=row.birth_place,
        sex=Sex(row.sex),
        citizenship=row.citizenship,
        date_of_death=row.date_of_death if death_known else None,
        residence=found[0] if found else None,
    )


def _death_known(recorded: datetime, known: date | datetime) -> bool:
    instant, inclusive = known_instant(known)
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
    at ``known``. For ``parent`` relations, ``person_id`` is the parent. Core statements, as
    :func:`get_person`: what the session holds unflushed is not seen (the use cases flush)."""
    if known is None and not kinds:
        rows = session.connection().execute(
            _current_relations_select(any_day=valid is None), {"person_id": person_id, "on": valid}
        )
    else:
        statement = select(*_RELATION_COLUMNS).where(
            or_(Relation.person_id == person_id, Relation.related_person_id == person_id),
            as_of(Relation, valid=valid, known=known),
        )
        if kinds:
            statement = statement.where(Relation.kind.in_([k.value for k in kinds]))
        rows = session.connection().execute(statement.order_by(Relation.valid_from, Relation.id))
    return [_relation_record(row) for row in rows]


def relations_of_many(
    session: Session,
    *,
    person_ids: Sequence[int],
    valid: date | None = None,
    known: Known = None,
) -> dict[int, list[RelationRecord]]:
    """:func:`relations_of` for each of ``person_ids``, in one select (a bulk read's persons):
    each person's relations, in the order :func:`relations_of` gives them (a relation between
    two of the persons is in both lists)."""
    wanted = list(dict.fromkeys(person_ids))
    found: dict[int, list[RelationRecord]] = {person_id: [] for person_id in wanted}
    if not wanted:
        return found
    ids = bindparam("ids", type_=Integer(), expanding=True)
    rows = session.connection().execute(
        select(*_RELATION_COLUMNS)
        .where(
            or_(Relation.person_id.in_(ids), Relation.related_person_id.in_(ids)),
            as_of(Relation, valid=valid, known=known),
        )
        .order_by(Relation.valid_from, Relation.id),
        {"ids": wanted},
    )
    for row in rows:
        record = _relation_record(row)
        for side in dict.fromkeys((row.person_id, row.related_person_id)):
            if side in found:
                found[side].append(record)
    return found


def _relation_record(row: Any) -> RelationRecord:
    return RelationRecord(
        id=row.id,
        kind=RelationKind(row.kind),
        person_id=row.person_id,
        related_person_id=row.related_person_id,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
        end_reason=row.end_reason,
    )


_RELATION_COLUMNS = (
    Relation.id,
    Relation.kind,
    Relation.person_id,
    Relation.related_person_id,
    Relation.valid_from,
    Relation.valid_to,
    Relation.end_reason,
)


@cache
def _current_relations_select(*, any_day: bool = False) -> Select[*tuple[Any, ...]]:
    """Built once: the relations of the ``person_id`` bind valid on the ``on`` bind (with
    ``any_day``: on any day, the history), as the register knows them now (the exchange's
    relations service, every overview page)."""
    person = bindparam("person_id", type_=Integer())
    statement = select(*_RELATION_COLUMNS).where(
        or_(Relation.person_id == person, Relation.related_person_id == person),
        known_at(Relation, None),
    )
    if not any_day:
        statement = statement.where(valid_on(Relation, bindparam("on", type_=Date())))
    return statement.order_by(Relation.valid_from, Relation.id)


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
