"""Addresses and administrative areas: region → municipality → address."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound
from joinedup.core.events import emit
from joinedup.registries.codes import digit_matrix
from joinedup.registries.events import (
    AddressesImported,
    AddressRegistered,
    MunicipalityRegistered,
    RegionRegistered,
)
from joinedup.registries.models import Address, Municipality, Region
from joinedup.registries.schemas import AddressRecord, MunicipalityRecord, RegionRecord
from joinedup.registries.service.bulk import allocate_ids, insert_columns
from joinedup.registries.service.checks import Problems, check_text

_AREA_CODE = re.compile(r"^[0-9A-Za-z]{1,8}$")
POSTCODE_LENGTH = 5


@dataclass(frozen=True, kw_only=True)
class AddressColumns:
    """Addresses to create, one entry per address (all arrays of one length)."""

    municipality_code: npt.NDArray[np.str_]
    street: npt.NDArray[np.str_]
    house_number: npt.NDArray[np.str_]
    apartment: npt.NDArray[np.str_]  # "" for none
    postcode: npt.NDArray[np.str_]

    def __len__(self) -> int:
        return int(self.street.shape[0])


def _check_area(problems: Problems, field: str, code: str, name: str) -> None:
    if not _AREA_CODE.match(code):
        problems.add(field, "must be an administrative code of 1 to 8 letters or digits")
    check_text(problems, "name", np.array([name]), max_length=200)


def register_region(session: Session, *, code: str, name: str, actor: str) -> RegionRecord:
    """Add a region. Writes one region row, emits ``addresses.region_registered.v1``."""
    problems = Problems()
    _check_area(problems, "code", code, name)
    if not problems and session.scalar(select(Region.id).where(Region.code == code)):
        problems.add("code", "is already the code of a region")
    problems.raise_if_any()
    region = Region(code=code, name=name.strip(), recorded_at=utcnow(), recorded_by=actor)
    session.add(region)
    session.flush()
    emit(session, RegionRegistered(region_id=region.id, code=region.code))
    return RegionRecord.model_validate(region)


def register_municipality(
    session: Session, *, code: str, name: str, region_code: str, actor: str
) -> MunicipalityRecord:
    """Add a municipality to a region. Writes one row, emits
    ``addresses.municipality_registered.v1``."""
    problems = Problems()
    _check_area(problems, "code", code, name)
    region = session.scalar(select(Region).where(Region.code == region_code))
    if region is None:
        problems.add("region_code", "is not a registered region")
    if not problems and session.scalar(select(Municipality.id).where(Municipality.code == code)):
        problems.add("code", "is already the code of a municipality")
    problems.raise_if_any()
    assert region is not None
    municipality = Municipality(
        code=code, name=name.strip(), region_id=region.id, recorded_at=utcnow(), recorded_by=actor
    )
    session.add(municipality)
    session.flush()
    emit(
        session,
        MunicipalityRegistered(
            municipality_id=municipality.id, code=municipality.code, region_code=region.code
        ),
    )
    return MunicipalityRecord(
        id=municipality.id,
        code=municipality.code,
        name=municipality.name,
        region_code=region.code,
        region_name=region.name,
    )


def _municipality_ids(
    session: Session, problems: Problems, codes: npt.NDArray[np.str_]
) -> npt.NDArray[np.int64]:
    known = {
        str(r[0]): int(r[1]) for r in session.execute(select(Municipality.code, Municipality.id))
    }
    ids = np.array([known.get(c, 0) for c in codes.tolist()], dtype=np.int64)
    problems.check(ids == 0, "municipality_code", "is not a registered municipality")
    return ids


def validate_addresses(
    session: Session, addresses: AddressColumns, problems: Problems
) -> npt.NDArray[np.int64]:
    """Every address rule (also used by the other batch imports); returns municipality ids."""
    check_text(problems, "street", addresses.street, max_length=200)
    check_text(problems, "house_number", addresses.house_number, max_length=20)
    check_text(problems, "apartment", addresses.apartment, max_length=20, required=False)
    _, malformed = digit_matrix(addresses.postcode, POSTCODE_LENGTH)
    problems.check(malformed, "postcode", f"must be {POSTCODE_LENGTH} digits")
    return _municipality_ids(session, problems, np.asarray(addresses.municipality_code))


def write_addresses(
    session: Session, addresses: AddressColumns, municipality_ids: npt.NDArray[np.int64], actor: str
) -> npt.NDArray[np.int64]:
    """Insert validated addresses; returns their ids (in input order)."""
    ids = allocate_ids(session, Address, len(addresses))
    apartments = np.asarray(addresses.apartment, dtype=object)
    apartments[np.char.str_len(np.asarray(addresses.apartment, dtype=np.str_)) == 0] = None
    insert_columns(
        session,
        Address,
        {
            "id": ids,
            "municipality_id": municipality_ids,
            "street": np.char.strip(addresses.street),
            "house_number": addresses.house_number,
            "apartment": apartments,
            "postcode": addresses.postcode,
            "recorded_at": utcnow(),
            "recorded_by": actor,
        },
    )
    return ids


def register_address(
    session: Session,
    *,
    municipality_code: str,
    street: str,
    house_number: str,
    postcode: str,
    apartment: str | None = None,
    actor: str,
) -> AddressRecord:
    """Add an address. Writes one address row, emits ``addresses.address_registered.v1``."""
    columns = AddressColumns(
        municipality_code=np.array([municipality_code]),
        street=np.array([street]),
        house_number=np.array([house_number]),
        apartment=np.array([apartment or ""]),
        postcode=np.array([postcode]),
    )
    problems = Problems()
    municipality_ids = validate_addresses(session, columns, problems)
    problems.raise_if_any()
    address_id = int(write_addresses(session, columns, municipality_ids, actor)[0])
    emit(session, AddressRegistered(address_id=address_id, municipality_code=municipality_code))
    return get_address(session, address_id=address_id)


def import_addresses(
    session: Session, *, addresses: AddressColumns, actor: str
) -> npt.NDArray[np.int64]:
    """Add many addresses at once, all or none. Returns their ids in input order and emits
    one ``addresses.imported.v1``."""
    problems = Problems("addresses")
    municipality_ids = validate_addresses(session, addresses, problems)
    problems.raise_if_any()
    ids = write_addresses(session, addresses, municipality_ids, actor)
    emit(
        session,
        AddressesImported(
            addresses=len(addresses),
            first_address_id=int(ids[0]) if ids.size else None,
            last_address_id=int(ids[-1]) if ids.size else None,
        ),
    )
    return ids


def _address_select() -> Select[int, str, str, str | None, str, str, str, str]:
    return (
        select(
            Address.id,
            Address.street,
            Address.house_number,
            Address.apartment,
            Address.postcode,
            Municipality.code.label("municipality_code"),
            Municipality.name.label("municipality_name"),
            Region.code.label("region_code"),
        )
        .join(Municipality, Address.municipality_id == Municipality.id)
        .join(Region, Municipality.region_id == Region.id)
    )


def get_address(session: Session, *, address_id: int) -> AddressRecord:
    """One address with its municipality and region (``NotFound`` if there is none)."""
    row = session.execute(_address_select().where(Address.id == address_id)).mappings().first()
    if row is None:
        raise NotFound(f"address {address_id} does not exist")
    return AddressRecord.model_validate(dict(row))


def find_address(
    session: Session,
    *,
    municipality_code: str,
    street: str,
    house_number: str,
    postcode: str,
    apartment: str | None = None,
) -> AddressRecord | None:
    """The registered address with exactly these details, or ``None`` (the oldest, should the
    register hold the same address twice)."""
    statement = _address_select().where(
        Municipality.code == municipality_code,
        Address.street == street.strip(),
        Address.house_number == house_number.strip(),
        Address.postcode == postcode.strip(),
        Address.apartment.is_(None) if not apartment else Address.apartment == apartment.strip(),
    )
    row = session.execute(statement.order_by(Address.id).limit(1)).mappings().first()
    return AddressRecord.model_validate(dict(row)) if row is not None else None


def get_addresses(session: Session, *, address_ids: list[int]) -> dict[int, AddressRecord]:
    """Several addresses by id (missing ids are left out)."""
    rows = session.execute(_address_select().where(Address.id.in_(address_ids))).mappings()
    return {row["id"]: AddressRecord.model_validate(dict(row)) for row in rows}


def list_municipalities(session: Session) -> list[MunicipalityRecord]:
    """Every municipality with its region, by code."""
    rows = session.execute(
        select(
            Municipality.id,
            Municipality.code,
            Municipality.name,
            Region.code.label("region_code"),
            Region.name.label("region_name"),
        )
        .join(Region, Municipality.region_id == Region.id)
        .order_by(Municipality.code)
    ).mappings()
    return [MunicipalityRecord.model_validate(dict(row)) for row in rows]


def list_regions(session: Session) -> list[RegionRecord]:
    """Every region, by code."""
    return [
        RegionRecord.model_validate(r)
        for r in session.scalars(select(Region).order_by(Region.code))
    ]


def count_addresses(session: Session) -> int:
    """How many addresses the register holds."""
    return int(session.scalar(select(func.count()).select_from(Address)) or 0)
