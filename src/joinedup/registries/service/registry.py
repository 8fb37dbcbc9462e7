"""Which member agency keeps each base registry (and publishes it through the exchange)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound
from joinedup.core.events import emit
from joinedup.exchange import get_subsystem
from joinedup.registries.events import RegistryOwnerAssigned
from joinedup.registries.models import Registry
from joinedup.registries.schemas import RegistryRecord
from joinedup.registries.service.checks import Problems

#: The base registries this context keeps, by code.
REGISTRIES: dict[str, str] = {
    "population": "Population register",
    "addresses": "Address and administrative areas register",
    "businesses": "Business register",
    "employment": "Employment and income register",
    "payment-accounts": "Payment accounts register",
}


def register_registry(
    session: Session,
    *,
    code: str,
    owner_member_class: str,
    owner_member_code: str,
    owner_subsystem_code: str,
    actor: str,
) -> RegistryRecord:
    """Name the member (and its subsystem) that keeps the registry ``code``, which must be
    one of :data:`REGISTRIES`. Writes the registry row; emits ``registry.owner_assigned.v1``."""
    problems = Problems()
    if code not in REGISTRIES:
        problems.add("code", "must be one of " + ", ".join(REGISTRIES))
    elif session.get(Registry, code) is not None:
        problems.add("code", "already has an owner")
    try:
        get_subsystem(
            session,
            member_class=owner_member_class,
            member_code=owner_member_code,
            subsystem_code=owner_subsystem_code,
        )
    except NotFound:
        problems.add("owner_subsystem_code", "is not a registered subsystem of that member")
    problems.raise_if_any()
    row = Registry(
        code=code,
        name=REGISTRIES[code],
        owner_member_class=owner_member_class,
        owner_member_code=owner_member_code,
        owner_subsystem_code=owner_subsystem_code,
        recorded_at=utcnow(),
        recorded_by=actor,
    )
    session.add(row)
    session.flush()
    emit(
        session,
        RegistryOwnerAssigned(
            registry_code=code,
            owner_member_class=owner_member_class,
            owner_member_code=owner_member_code,
            owner_subsystem_code=owner_subsystem_code,
        ),
    )
    return RegistryRecord.model_validate(row)


def list_registries(session: Session) -> list[RegistryRecord]:
    """Every registry with its owner, by code."""
    rows = session.connection().execute(_ALL_REGISTRIES)
    return [RegistryRecord.model_validate(row._mapping) for row in rows]


#: Built once: the registers and their owners.
_ALL_REGISTRIES = select(Registry.__table__).order_by(Registry.code)


def registry_owners(session: Session) -> dict[str, tuple[str, str, str]]:
    """Who keeps each register: registry code → the owner's member class, member code and
    subsystem code (a register with no owner registered is left out). As plain values: every
    view of the portal's overview names the owners with it."""
    rows = session.connection().execute(_OWNERS)
    return {
        code: (member_class, member_code, subsystem)
        for code, member_class, member_code, subsystem in rows
    }


#: Built once: every register's owner.
_OWNERS = select(
    Registry.code,
    Registry.owner_member_class,
    Registry.owner_member_code,
    Registry.owner_subsystem_code,
)


def get_registry(session: Session, *, code: str) -> RegistryRecord:
    """One registry and its owner (``NotFound`` if no owner is registered)."""
    row = session.get(Registry, code)
    if row is None:
        raise NotFound(f"registry {code} has no owner registered")
    return RegistryRecord.model_validate(row)
