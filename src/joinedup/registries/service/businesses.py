"""The business register: businesses and the persons who represent them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import today, utcnow
from joinedup.core.errors import NotFound
from joinedup.core.events import emit
from joinedup.registries.codes import (
    COMPANY,
    FOUNDATION,
    NON_PROFIT,
    inspect_business_codes,
    next_business_code,
)
from joinedup.registries.events import (
    BusinessesImported,
    BusinessRegistered,
    RepresentativeAdded,
    RepresentativeEnded,
)
from joinedup.registries.models import Business, BusinessRepresentative
from joinedup.registries.schemas import (
    BusinessRecord,
    LegalForm,
    RepresentativeRecord,
    RepresentativeRole,
)
from joinedup.registries.service import bitemporal
from joinedup.registries.service.bulk import allocate_ids, insert_columns, or_none
from joinedup.registries.service.checks import (
    Problems,
    check_not_future,
    check_one_of,
    check_order,
    check_required_dates,
    check_text,
    check_unique,
    dates,
    years_between,
)
from joinedup.registries.service.lookups import business_facts, member_of, person_facts
from joinedup.registries.service.population_import import existing_address_ids
from joinedup.registries.service.rules import ADULT_AGE

_LEGAL_FORMS = tuple(f.value for f in LegalForm)
_ROLES = tuple(r.value for r in RepresentativeRole)


def code_type(legal_form: str) -> int:
    """The type digit a business registration code starts with, by legal form."""
    return {"non_profit": NON_PROFIT, "foundation": FOUNDATION}.get(legal_form, COMPANY)


@dataclass(frozen=True, kw_only=True)
class BusinessColumns:
    """Businesses to register, one entry per business (all arrays of one length)."""

    registration_code: npt.NDArray[np.str_]
    name: npt.NDArray[np.str_]
    legal_form: npt.NDArray[np.str_]
    address_id: npt.NDArray[np.int64]  # 0: no registered seat
    registered_on: npt.NDArray[np.datetime64]

    def __len__(self) -> int:
        return int(self.name.shape[0])


@dataclass(frozen=True, kw_only=True)
class RepresentativeColumns:
    business_id: npt.NDArray[np.int64]
    person_id: npt.NDArray[np.int64]
    role: npt.NDArray[np.str_]
    valid_from: npt.NDArray[np.datetime64]

    def __len__(self) -> int:
        return int(self.role.shape[0])


def _validate_businesses(session: Session, problems: Problems, rows: BusinessColumns) -> None:
    malformed, bad = inspect_business_codes(rows.registration_code)
    problems.check(malformed, "registration_code", "must be 8 digits")
    problems.check(bad, "registration_code", "has a wrong check digit or type digit")
    check_unique(problems, "registration_code", rows.registration_code)
    check_text(problems, "name", rows.name, max_length=300)
    check_one_of(problems, "legal_form", rows.legal_form, _LEGAL_FORMS)
    expected = np.array([str(code_type(f)) for f in rows.legal_form.tolist()])
    first_digit = np.asarray(rows.registration_code, dtype="U1")
    problems.check(
        ~malformed & (first_digit != expected),
        "registration_code",
        "its first digit does not match the legal form (1 companies, 8 non-profits, 9 foundations)",
    )
    check_required_dates(problems, "registered_on", rows.registered_on)
    check_not_future(problems, "registered_on", rows.registered_on, today())
    seated = rows.address_id > 0
    if seated.any():
        found = existing_address_ids(session, rows.address_id[seated])
        problems.check(
            seated & ~np.isin(rows.address_id, found), "address_id", "is not a registered address"
        )
    if problems:
        return
    codes = np.unique(rows.registration_code).tolist()
    if session.scalar(
        select(Business.id).where(member_of(session, Business.registration_code, codes)).limit(1)
    ):
        problems.add("registration_code", "is already registered to another business")


def _write_businesses(session: Session, rows: BusinessColumns, actor: str) -> npt.NDArray[np.int64]:
    ids = allocate_ids(session, Business, len(rows))
    insert_columns(
        session,
        Business,
        {
            "id": ids,
            "registration_code": rows.registration_code,
            "name": np.char.strip(rows.name),
            "legal_form": rows.legal_form,
            "address_id": or_none(rows.address_id > 0, rows.address_id),
            "registered_on": rows.registered_on,
            "deregistered_on": np.full(len(rows), np.datetime64("NaT", "D")),
            "recorded_at": utcnow(),
            "recorded_by": actor,
        },
    )
    return ids


def register_business(
    session: Session,
    *,
    name: str,
    legal_form: LegalForm | str,
    registered_on: date,
    address_id: int | None = None,
    registration_code: str | None = None,
    actor: str,
) -> BusinessRecord:
    """Register a business. Without ``registration_code`` the register issues the next one.
    Writes one business; emits ``business.registered.v1``."""
    form = str(legal_form.value if isinstance(legal_form, LegalForm) else legal_form)
    if registration_code is None and form in _LEGAL_FORMS:
        kind = code_type(form)
        highest = session.scalar(
            select(func.max(Business.registration_code)).where(
                Business.registration_code.like(f"{kind}%")
            )
        )
        registration_code = next_business_code(kind, highest)
    rows = BusinessColumns(
        registration_code=np.array([registration_code or ""]),
        name=np.array([name]),
        legal_form=np.array([form]),
        address_id=np.array([address_id or 0], dtype=np.int64),
        registered_on=dates([registered_on]),
    )
    problems = Problems()
    _validate_businesses(session, problems, rows)
    problems.raise_if_any()
    business_id = int(_write_businesses(session, rows, actor)[0])
    emit(
        session,
        BusinessRegistered(
            business_id=business_id,
            registration_code=str(registration_code),
            legal_form=form,
            registered_on=registered_on,
        ),
    )
    return get_business(session, business_id=business_id)


def import_businesses(
    session: Session, *, businesses: BusinessColumns, actor: str
) -> npt.NDArray[np.int64]:
    """Register many businesses, all or none; returns their ids in input order. Emits one
    ``business.imported.v1``."""
    problems = Problems("businesses")
    _validate_businesses(session, problems, businesses)
    problems.raise_if_any()
    ids = _write_businesses(session, businesses, actor)
    emit(session, BusinessesImported(businesses=len(businesses), representatives=0))
    return ids


def _validate_representatives(
    session: Session, problems: Problems, rows: RepresentativeColumns
) -> None:
    check_one_of(problems, "role", rows.role, _ROLES)
    check_required_dates(problems, "valid_from", rows.valid_from)
    check_not_future(problems, "valid_from", rows.valid_from, today())
    check_unique(problems, "person_id", rows.business_id * 10**12 + rows.person_id)
    person = person_facts(session, rows.person_id)
    business = business_facts(session, rows.business_id)
    problems.check(~person.found, "person_id", "is not a registered person")
    problems.check(~business.found, "business_id", "is not a registered business")
    check_order(
        problems,
        "valid_from",
        business.start,
        rows.valid_from,
        "is before the business was registered",
    )
    problems.check(
        ~np.isnat(person.end) & (person.end <= rows.valid_from),
        "valid_from",
        "the person has died by then",
    )
    known = person.found & ~np.isnat(rows.valid_from)
    ages = years_between(np.where(known, person.start, rows.valid_from), rows.valid_from)
    problems.check(
        known & (ages < ADULT_AGE), "person_id", f"a representative is at least {ADULT_AGE}"
    )


def _write_representatives(session: Session, rows: RepresentativeColumns, actor: str) -> None:
    insert_columns(
        session,
        BusinessRepresentative,
        {
            "business_id": rows.business_id,
            "person_id": rows.person_id,
            "role": rows.role,
            "valid_from": rows.valid_from,
            "valid_to": np.full(len(rows), np.datetime64("NaT", "D")),
            "recorded_at": utcnow(),
            "recorded_by": actor,
            "superseded_at": None,
        },
    )


def import_representatives(
    session: Session, *, representatives: RepresentativeColumns, actor: str
) -> int:
    """Register many representatives, all or none. Emits one ``business.imported.v1``."""
    problems = Problems("representatives")
    _validate_representatives(session, problems, representatives)
    problems.raise_if_any()
    _write_representatives(session, representatives, actor)
    emit(session, BusinessesImported(businesses=0, representatives=len(representatives)))
    return len(representatives)


def add_representative(
    session: Session,
    *,
    business_id: int,
    person_id: int,
    role: RepresentativeRole | str,
    valid_from: date,
    actor: str,
) -> RepresentativeRecord:
    """Give a person the right to represent a business from ``valid_from``. Emits
    ``business.representative_added.v1``."""
    rows = RepresentativeColumns(
        business_id=np.array([business_id], dtype=np.int64),
        person_id=np.array([person_id], dtype=np.int64),
        role=np.array([str(role.value if isinstance(role, RepresentativeRole) else role)]),
        valid_from=dates([valid_from]),
    )
    problems = Problems()
    _validate_representatives(session, problems, rows)
    if not problems and session.scalar(
        select(BusinessRepresentative.id).where(
            BusinessRepresentative.business_id == business_id,
            BusinessRepresentative.person_id == person_id,
            BusinessRepresentative.role == str(rows.role[0]),
            BusinessRepresentative.superseded_at.is_(None),
            bitemporal.overlapping(BusinessRepresentative, valid_from, None),
        )
    ):
        problems.add("person_id", "already represents the business in this role then")
    problems.raise_if_any()
    row = BusinessRepresentative(
        business_id=business_id,
        person_id=person_id,
        role=str(rows.role[0]),
        valid_from=valid_from,
        valid_to=None,
        recorded_at=utcnow(),
        recorded_by=actor,
        superseded_at=None,
    )
    session.add(row)
    session.flush()
    emit(
        session,
        RepresentativeAdded(
            representative_id=row.id,
            business_id=business_id,
            person_id=person_id,
            role=row.role,
            valid_from=valid_from,
        ),
    )
    return RepresentativeRecord.model_validate(row)


def end_representative(
    session: Session, *, representative_id: int, valid_to: date, actor: str
) -> RepresentativeRecord:
    """End a representation right on ``valid_to`` (exclusive). Emits
    ``business.representative_ended.v1``."""
    ended = bitemporal.end_lasting(
        session,
        BusinessRepresentative,
        representative_id,
        id_field="representative_id",
        end_field="valid_to",
        end=valid_to,
        what="representation",
        after="must be after valid_from",
        actor=actor,
    )
    emit(
        session,
        RepresentativeEnded(
            representative_id=ended.id,
            business_id=ended.business_id,
            person_id=ended.person_id,
            valid_to=valid_to,
        ),
    )
    return RepresentativeRecord.model_validate(ended)


def get_business(
    session: Session, *, business_id: int | None = None, registration_code: str | None = None
) -> BusinessRecord:
    """A business by id or registration code (``NotFound`` if there is none)."""
    statement = select(Business)
    if business_id is not None:
        statement = statement.where(Business.id == business_id)
    elif registration_code is not None:
        statement = statement.where(Business.registration_code == registration_code)
    else:
        raise NotFound("give a business id or a registration code")
    business = session.scalar(statement)
    if business is None:
        raise NotFound("no such business is registered")
    return BusinessRecord.model_validate(business)


class BusinessName(NamedTuple):
    """How a registry answer names a business: its code, name and deregistration day."""

    registration_code: str
    name: str
    deregistered_on: date | None


def business_names(session: Session, business_ids: Iterable[int]) -> dict[int, BusinessName]:
    """The registration code, name and deregistration day of each business of
    ``business_ids``, as the register holds them now (an id of no business is left out). For
    the registry services naming a person's employers and the businesses they represent: a
    prebuilt select per business, no ORM object and no record model (an answer names one or
    two businesses)."""
    connection = session.connection()
    names: dict[int, BusinessName] = {}
    for business_id in business_ids:
        if business_id not in names:
            row = connection.execute(_NAME_BY_ID, {"id": business_id}).first()
            if row is not None:
                names[business_id] = BusinessName(*row)
    return names


#: Built once: how a registry answer names a business, by its id.
_NAME_BY_ID = select(Business.registration_code, Business.name, Business.deregistered_on).where(
    Business.id == bindparam("id")
)


def representatives_of(
    session: Session, *, business_id: int, valid: date | None = None, known: bitemporal.Known = None
) -> list[RepresentativeRecord]:
    """Who represents the business on ``valid`` (default today) as known at ``known``."""
    rows = session.scalars(
        select(BusinessRepresentative)
        .where(
            BusinessRepresentative.business_id == business_id,
            bitemporal.as_of(BusinessRepresentative, valid=valid or today(), known=known),
        )
        .order_by(BusinessRepresentative.id)
    )
    return [RepresentativeRecord.model_validate(r) for r in rows]


def representations_of(
    session: Session, *, person_id: int, valid: date | None = None, known: bitemporal.Known = None
) -> list[RepresentativeRecord]:
    """The businesses a person represents on ``valid`` (default today) as known at ``known``
    (the business register's "roles of a person")."""
    if known is None:
        found = bitemporal.person_rows_now(
            session, BusinessRepresentative, person_id=person_id, valid=valid or today(),
            order_by=("business_id", "id"),
        )  # fmt: skip
        return [RepresentativeRecord.model_validate(r._mapping) for r in found]
    rows = session.scalars(
        select(BusinessRepresentative)
        .where(
            BusinessRepresentative.person_id == person_id,
            bitemporal.as_of(BusinessRepresentative, valid=valid or today(), known=known),
        )
        .order_by(BusinessRepresentative.business_id, BusinessRepresentative.id)
    )
    return [RepresentativeRecord.model_validate(r) for r in rows]


def employer_directory(
    session: Session,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.datetime64]]:
    """Ids and registration dates of every registered business still registered, by id."""
    rows = session.execute(
        select(Business.id, Business.registered_on)
        .where(Business.deregistered_on.is_(None))
        .order_by(Business.id)
    ).all()
    return np.array([r[0] for r in rows], dtype=np.int64), dates([r[1] for r in rows])


def count_businesses(session: Session) -> int:
    """How many businesses the register holds."""
    return int(session.scalar(select(func.count()).select_from(Business)) or 0)
