"""The member directory: register members and their subsystems, look them up."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.exchange.directory import bump_generation, current_directory
from joinedup.exchange.events import MemberRegistered, SubsystemRegistered
from joinedup.exchange.models import Member, Subsystem
from joinedup.exchange.schemas import MemberClass, MemberLevel, MemberRecord, SubsystemRecord

#: Member and subsystem codes appear in X-Road paths and headers, so no "/" and no spaces.
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_AREA_CODE = re.compile(r"^[A-Za-z0-9]{1,8}$")


def _member_record(member: Member, parent: Member | None) -> MemberRecord:
    return MemberRecord(
        id=member.id,
        member_class=MemberClass(member.member_class),
        member_code=member.member_code,
        name=member.name,
        level=MemberLevel(member.level),
        parent_member_class=MemberClass(parent.member_class) if parent else None,
        parent_member_code=parent.member_code if parent else None,
        region_code=member.region_code,
        municipality_code=member.municipality_code,
        registered_at=member.registered_at,
    )


def _find_member(session: Session, member_class: str, member_code: str) -> Member | None:
    return session.scalar(
        select(Member).where(Member.member_class == member_class, Member.member_code == member_code)
    )


def _check_name(name: str, problems: list[str], field: str = "name") -> None:
    if not name.strip() or len(name) > 300:
        problems.append(f"{field} must be 1 to 300 characters")


def register_member(
    session: Session,
    *,
    member_class: MemberClass | str,
    member_code: str,
    name: str,
    level: MemberLevel | str,
    parent: tuple[MemberClass | str, str] | None = None,
    region_code: str | None = None,
    municipality_code: str | None = None,
    actor: str,
) -> MemberRecord:
    """Add an organisation to the exchange's member directory.

    ``parent`` is the (class, code) of the organisation it belongs to. A regional member names
    the region it serves, a local member its municipality (and region). Writes one member row
    and emits ``exchange.member_registered.v1``.
    """
    problems: list[str] = []
    if member_class not in MemberClass.__members__.values():
        problems.append("member_class must be GOV, COM or NGO")
    if level not in MemberLevel.__members__.values():
        problems.append("level must be national, regional or local")
    if not _CODE.match(member_code):
        problems.append("member_code must be 1 to 64 letters, digits, '.', '_' or '-'")
    _check_name(name, problems)
    for field, code in (("region_code", region_code), ("municipality_code", municipality_code)):
        if code is not None and not _AREA_CODE.match(code):
            problems.append(f"{field} must be an administrative code of 1 to 8 letters or digits")
    if level == MemberLevel.NATIONAL and (region_code or municipality_code):
        problems.append(
            "a national member serves the whole country: give no region or municipality"
        )
    if level == MemberLevel.REGIONAL and (not region_code or municipality_code):
        problems.append("a regional member names its region_code and no municipality_code")
    if level == MemberLevel.LOCAL and not municipality_code:
        problems.append("a local member names the municipality_code it serves")
    parent_row: Member | None = None
    if parent is not None:
        parent_row = _find_member(session, str(parent[0]), parent[1])
        if parent_row is None:
            problems.append(f"parent member {parent[0]}/{parent[1]} is not registered")
    if not problems and _find_member(session, str(member_class), member_code) is not None:
        problems.append(f"member {member_class}/{member_code} is already registered")
    if problems:
        raise ValidationFailed("; ".join(problems), errors=problems)
    member = Member(
        member_class=str(member_class),
        member_code=member_code,
        name=name.strip(),
        level=str(level),
        parent_id=parent_row.id if parent_row else None,
        region_code=region_code,
        municipality_code=municipality_code,
        registered_at=utcnow(),
        registered_by=actor,
    )
    session.add(member)
    session.flush()
    bump_generation(session)  # the directory names the members (a rollback then reloads it)
    emit(
        session,
        MemberRegistered(
            member_id=member.id,
            member_class=member.member_class,
            member_code=member.member_code,
            level=member.level,
            parent_member_code=parent_row.member_code if parent_row else None,
        ),
    )
    return _member_record(member, parent_row)


def register_subsystem(
    session: Session,
    *,
    member_class: MemberClass | str,
    member_code: str,
    subsystem_code: str,
    name: str,
    actor: str,
) -> SubsystemRecord:
    """Register an information system of a member. Writes one subsystem row and emits
    ``exchange.subsystem_registered.v1``."""
    problems: list[str] = []
    if not _CODE.match(subsystem_code):
        problems.append("subsystem_code must be 1 to 64 letters, digits, '.', '_' or '-'")
    _check_name(name, problems)
    member = _find_member(session, str(member_class), member_code)
    if member is None:
        problems.append(f"member {member_class}/{member_code} is not registered")
    elif session.scalar(
        select(Subsystem.id).where(
            Subsystem.member_id == member.id, Subsystem.code == subsystem_code
        )
    ):
        problems.append(
            f"subsystem {subsystem_code} of {member_class}/{member_code} exists already"
        )
    if problems or member is None:
        raise ValidationFailed("; ".join(problems), errors=problems)
    subsystem = Subsystem(
        member_id=member.id,
        code=subsystem_code,
        name=name.strip(),
        registered_at=utcnow(),
        registered_by=actor,
    )
    session.add(subsystem)
    session.flush()
    bump_generation(session)  # the directory knows the subsystems
    emit(
        session,
        SubsystemRegistered(
            subsystem_id=subsystem.id,
            member_class=member.member_class,
            member_code=member.member_code,
            subsystem_code=subsystem.code,
        ),
    )
    return _subsystem_record(subsystem, member)


def _subsystem_record(subsystem: Subsystem, member: Member) -> SubsystemRecord:
    return SubsystemRecord(
        id=subsystem.id,
        member_class=MemberClass(member.member_class),
        member_code=member.member_code,
        code=subsystem.code,
        name=subsystem.name,
        registered_at=subsystem.registered_at,
    )


def get_member(
    session: Session, *, member_class: MemberClass | str, member_code: str
) -> MemberRecord:
    """The member ``class/code`` (``NotFound`` if it is not registered)."""
    member = _find_member(session, str(member_class), member_code)
    if member is None:
        raise NotFound(f"member {member_class}/{member_code} is not registered")
    parent = session.get(Member, member.parent_id) if member.parent_id else None
    return _member_record(member, parent)


def member_names(
    session: Session, members: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """The names of the registered ``(class, code)`` members among ``members``, from the
    directory snapshot (a page naming the owners of several registers); one not registered is
    left out."""
    wanted = list(dict.fromkeys((str(c), code) for c, code in members))
    known = current_directory(session).member_names  # members are never renamed or removed
    if any(member not in known for member in wanted):  # registered a moment ago elsewhere?
        known = current_directory(session, check=True).member_names
    return {member: known[member] for member in wanted if member in known}


def get_subsystem(
    session: Session, *, member_class: MemberClass | str, member_code: str, subsystem_code: str
) -> SubsystemRecord:
    """The subsystem ``class/member/subsystem`` (``NotFound`` if it is not registered)."""
    row = session.execute(
        select(Subsystem, Member)
        .join(Member, Subsystem.member_id == Member.id)
        .where(
            Member.member_class == str(member_class),
            Member.member_code == member_code,
            Subsystem.code == subsystem_code,
        )
    ).first()
    if row is None:
        raise NotFound(f"subsystem {member_class}/{member_code}/{subsystem_code} is not registered")
    return _subsystem_record(row[0], row[1])


def list_members(
    session: Session,
    *,
    page: PageRequest,
    member_class: MemberClass | None = None,
    level: MemberLevel | None = None,
) -> Page[MemberRecord]:
    """Members in registration order, optionally of one class or level (keyset pages)."""
    statement: Select[Member] = select(Member)
    if member_class is not None:
        statement = statement.where(Member.member_class == member_class.value)
    if level is not None:
        statement = statement.where(Member.level == level.value)
    rows, cursor = keyset_page(session, statement, keys=[Member.id.expression], request=page)
    parent_ids = {m.parent_id for m in rows if m.parent_id is not None}
    parents = {p.id: p for p in session.scalars(select(Member).where(Member.id.in_(parent_ids)))}
    items = [_member_record(m, parents.get(m.parent_id) if m.parent_id else None) for m in rows]
    return Page[MemberRecord](items=items, next_cursor=cursor)


def list_subsystems(
    session: Session, *, member_class: MemberClass | str, member_code: str
) -> list[SubsystemRecord]:
    """Every subsystem of one member, by code."""
    member = _find_member(session, str(member_class), member_code)
    if member is None:
        raise NotFound(f"member {member_class}/{member_code} is not registered")
    rows = session.scalars(
        select(Subsystem).where(Subsystem.member_id == member.id).order_by(Subsystem.code)
    )
    return [_subsystem_record(s, member) for s in rows]


def count_members(session: Session) -> int:
    """How many members the directory holds."""
    return int(session.scalar(select(func.count()).select_from(Member)) or 0)
