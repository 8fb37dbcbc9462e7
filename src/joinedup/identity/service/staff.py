"""Staff roles per organisation: a person's roles in an exchange member's back office.

A staff member signs in like anyone (the same eID); what they may do in the back office
comes from the roles their organisation gave them here, and what they may read comes from
their organisation's access rights in the exchange (:func:`staff_exchange_client`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import Connection, Select, bindparam, select, update
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.exchange import ExchangeClient, exchange_client, get_member
from joinedup.identity.events import StaffRoleGranted, StaffRoleRevoked
from joinedup.identity.models import StaffRole
from joinedup.identity.schemas import StaffMembership, StaffRoleName, StaffRoleRecord
from joinedup.registries import is_valid_personal_code


def grant_staff_role(
    session: Session,
    *,
    personal_code: str,
    member_class: str,
    member_code: str,
    role: StaffRoleName | str,
    actor: str,
) -> StaffRoleRecord:
    """Give a person a role in an organisation's back office. Writes one role row; emits
    ``identity.staff_role_granted.v1``."""
    problems = []
    if not is_valid_personal_code(personal_code):
        problems.append({"field": "personal_code", "message": "is not a valid personal code"})
    try:
        role = StaffRoleName(role)
    except ValueError:
        problems.append({"field": "role", "message": "must be one of " + ", ".join(StaffRoleName)})
    if problems:
        raise ValidationFailed("the staff role cannot be granted", errors=problems)
    assert isinstance(role, StaffRoleName)
    get_member(session, member_class=member_class, member_code=member_code)  # NotFound
    exists = session.scalar(
        select(StaffRole.id).where(
            StaffRole.personal_code == personal_code,
            StaffRole.member_class == member_class,
            StaffRole.member_code == member_code,
            StaffRole.role == str(role),
            StaffRole.revoked_at.is_(None),
        )
    )
    if exists:
        raise Conflict("the person already has this role in this organisation")
    row = StaffRole(
        personal_code=personal_code,
        member_class=member_class,
        member_code=member_code,
        role=str(role),
        granted_at=utcnow(),
        granted_by=actor[:100],
        revoked_at=None,
        revoked_by=None,
    )
    session.add(row)
    session.flush()
    emit(
        session,
        StaffRoleGranted(
            role_id=row.id, member_class=member_class, member_code=member_code, role=str(role)
        ),
    )
    return StaffRoleRecord.model_validate(row)


def revoke_staff_role(
    session: Session, *, role_id: int, member_class: str, member_code: str, actor: str
) -> StaffRoleRecord:
    """End a staff role of the organisation ``member_class/member_code`` (a role of another
    organisation is ``NotFound``). Emits ``identity.staff_role_revoked.v1``."""
    row = session.get(StaffRole, role_id)
    if row is None or (row.member_class, row.member_code) != (member_class, member_code):
        raise NotFound("the organisation has no such staff role")
    if row.revoked_at is not None:
        raise Conflict("the staff role was already revoked")
    session.execute(
        update(StaffRole)
        .where(StaffRole.id == role_id)
        .values(revoked_at=utcnow(), revoked_by=actor[:100])
    )
    session.refresh(row)
    emit(
        session,
        StaffRoleRevoked(
            role_id=row.id, member_class=member_class, member_code=member_code, role=row.role
        ),
    )
    return StaffRoleRecord.model_validate(row)


def staff_roles_of(
    session: Session | Connection, *, personal_code: str
) -> tuple[StaffMembership, ...]:
    """A person's current roles, by organisation (in an ORM session or on a plain
    connection)."""
    connection = session.connection() if isinstance(session, Session) else session
    rows = connection.execute(_roles_select(), {"code": personal_code}).all()
    return tuple(StaffMembership(c, m, StaffRoleName(r)) for c, m, r in rows)


@cache
def _roles_select() -> Select[str, str, str]:
    """Built once (every signed-in page asks): the current roles of the ``code`` bind."""
    return (
        select(StaffRole.member_class, StaffRole.member_code, StaffRole.role)
        .where(StaffRole.personal_code == bindparam("code"), StaffRole.revoked_at.is_(None))
        .order_by(StaffRole.member_class, StaffRole.member_code, StaffRole.role)
    )


def staff_of(session: Session, *, member_class: str, member_code: str) -> list[StaffRoleRecord]:
    """An organisation's current staff roles."""
    rows = session.scalars(
        select(StaffRole)
        .where(
            StaffRole.member_class == member_class,
            StaffRole.member_code == member_code,
            StaffRole.revoked_at.is_(None),
        )
        .order_by(StaffRole.personal_code, StaffRole.role)
    )
    return [StaffRoleRecord.model_validate(r) for r in rows]


@contextmanager
def staff_exchange_client(
    session: Session,
    *,
    personal_code: str,
    roles: tuple[StaffMembership, ...],
    client: str,
) -> Iterator[ExchangeClient]:
    """Calls through the exchange as the subsystem ``client`` (``CLASS/MEMBER/SUBSYSTEM``)
    for a staff member: only a subsystem of an organisation they hold a role in, and only
    with that organisation's access rights; every call names the staff member as its user."""
    parts = client.split("/")
    if len(parts) != 3:
        raise ValidationFailed("client must be CLASS/MEMBER/SUBSYSTEM")
    member_class, member_code, _ = parts
    if not any((r.member_class, r.member_code) == (member_class, member_code) for r in roles):
        raise Forbidden("you hold no role in the organisation that owns this system")
    with exchange_client(session, client=client, user_id=personal_code) as calls:
        yield calls
