"""Access rights: a client subsystem may call a service, for named fields and purposes, each
purpose with its legal basis, from a day until a day (or until revoked)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from urllib.parse import urlsplit

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, aliased

from joinedup import consent
from joinedup.consent import LawfulBasis
from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.core.settings import get_settings
from joinedup.exchange.directory import bump_generation
from joinedup.exchange.events import AccessRightGranted, AccessRightRevoked
from joinedup.exchange.models import AccessRight, AccessRightPurpose, Member, Service, Subsystem
from joinedup.exchange.registry_services import REGISTRY_SERVICES
from joinedup.exchange.schemas import (
    AccessRightRecord,
    PurposeGrant,
    ServiceKind,
    ServiceRef,
    SubsystemRef,
)

#: What a purpose code looks like (the rights' purposes and their descriptions).
PURPOSE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MAX_DISCLOSURE_DELAY_DAYS = 3650


def _subsystem(session: Session, ref: SubsystemRef) -> tuple[Subsystem, Member] | None:
    row = session.execute(
        select(Subsystem, Member)
        .join(Member, Subsystem.member_id == Member.id)
        .where(
            Member.member_class == ref.member_class,
            Member.member_code == ref.member_code,
            Subsystem.code == ref.subsystem_code,
        )
    ).first()
    return (row[0], row[1]) if row else None


def _service(session: Session, ref: ServiceRef) -> Service | None:
    return session.scalar(
        select(Service)
        .join(Subsystem, Service.subsystem_id == Subsystem.id)
        .join(Member, Subsystem.member_id == Member.id)
        .where(
            Member.member_class == ref.member_class,
            Member.member_code == ref.member_code,
            Subsystem.code == ref.subsystem_code,
            Service.code == ref.service_code,
        )
    )


def _names_of(
    session: Session, rights: Sequence[AccessRight]
) -> tuple[dict[int, str], dict[int, str]]:
    """X-Road ids of the rights' client subsystems and services (two queries for a page)."""
    instance = get_settings().xroad_instance
    clients = session.execute(
        select(Subsystem.id, Member.member_class, Member.member_code, Subsystem.code)
        .join(Member, Subsystem.member_id == Member.id)
        .where(Subsystem.id.in_({r.client_subsystem_id for r in rights}))
    )
    services = session.execute(
        select(Service.id, Member.member_class, Member.member_code, Subsystem.code, Service.code)
        .join(Subsystem, Service.subsystem_id == Subsystem.id)
        .join(Member, Subsystem.member_id == Member.id)
        .where(Service.id.in_({r.service_id for r in rights}))
    )
    return (
        {row[0]: "/".join((instance, *row[1:])) for row in clients},
        {row[0]: "/".join((instance, *row[1:])) for row in services},
    )


def _record(
    right: AccessRight,
    purposes: Sequence[AccessRightPurpose],
    names: tuple[dict[int, str], dict[int, str]],
) -> AccessRightRecord:
    return AccessRightRecord(
        id=right.id,
        client=names[0][right.client_subsystem_id],
        service=names[1][right.service_id],
        fields=list(right.fields),
        purposes=[
            PurposeGrant(
                purpose=p.purpose,
                legal_basis=p.legal_basis,
                legal_basis_url=p.legal_basis_url,
                lawful_basis=LawfulBasis(p.lawful_basis),
                data_agreement_id=p.data_agreement_id,
            )
            for p in purposes
        ],
        valid_from=right.valid_from,
        valid_to=right.valid_to,
        law_enforcement=right.law_enforcement,
        disclosure_delay_days=right.disclosure_delay_days,
        own_residents_only=right.own_residents_only,
        granted_at=right.granted_at,
        granted_by=right.granted_by,
        revoked_at=right.revoked_at,
        revoked_by=right.revoked_by,
        revocation_reason=right.revocation_reason,
    )


def _check_purposes(purposes: Sequence[PurposeGrant], problems: list[dict[str, str]]) -> None:
    if not purposes:
        problems.append({"field": "purposes", "message": "name at least one purpose"})
    seen: set[str] = set()
    for i, grant in enumerate(purposes):
        where = f"purposes[{i}]"
        if not PURPOSE_PATTERN.match(grant.purpose):
            problems.append(
                {
                    "field": f"{where}.purpose",
                    "message": "1 to 64 lower-case letters, digits, '.', '_' or '-'",
                }
            )
        elif grant.purpose in seen:
            problems.append({"field": f"{where}.purpose", "message": "is named twice"})
        seen.add(grant.purpose)
        if not grant.legal_basis.strip() or len(grant.legal_basis) > 500:
            problems.append(
                {
                    "field": f"{where}.legal_basis",
                    "message": "name the law that allows it (1 to 500 characters)",
                }
            )
        if grant.legal_basis_url is not None:
            parts = urlsplit(grant.legal_basis_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                problems.append(
                    {"field": f"{where}.legal_basis_url", "message": "must be an http(s) URL"}
                )
            elif len(grant.legal_basis_url) > 500:
                problems.append(
                    {"field": f"{where}.legal_basis_url", "message": "at most 500 characters"}
                )


def _check_consent(
    session: Session,
    purposes: Sequence[PurposeGrant],
    client: SubsystemRef,
    service: ServiceRef,
    service_row: Service | None,
    fields: Sequence[str],
    problems: list[dict[str, str]],
) -> None:
    """A purpose resting on consent names a data agreement in force of the client's member
    (the controller) that covers the right's fields, on a registry service about a person."""
    controller = f"{client.member_class}/{client.member_code}"
    declared = REGISTRY_SERVICES.get(service_row.code) if service_row is not None else None
    about_a_person = service_row is None or (
        service_row.kind == ServiceKind.REGISTRY.value
        and declared is not None
        and declared.subject_parameter == "personalCode"
    )
    for i, grant in enumerate(purposes):
        where = f"purposes[{i}].data_agreement_id"

        def add(message: str, where: str = where) -> None:
            problems.append({"field": where, "message": message})

        if grant.lawful_basis != LawfulBasis.CONSENT:
            if grant.data_agreement_id is not None:
                add("only a purpose resting on consent names a data agreement")
            continue
        if grant.data_agreement_id is None:
            add("a purpose resting on consent names the data agreement consented to")
            continue
        try:
            agreement = consent.get_data_agreement(session, agreement_id=grant.data_agreement_id)
        except NotFound:
            add("is not a data agreement")
            continue
        if agreement.lawful_basis != LawfulBasis.CONSENT:
            add(f"the agreement rests on {agreement.lawful_basis}, not consent")
        if not agreement.active:
            add("the agreement is retired")
        if agreement.controller != controller:
            add(f"is an agreement of {agreement.controller}, not of the client's {controller}")
        if not about_a_person:
            add("consent can be checked only on registry services about a person")
        covered = {item.field for item in agreement.data_items if item.service == str(service)}
        if missing := [f for f in fields if f not in covered]:
            add(f"the agreement does not cover {', '.join(missing)} of {service}")


def grant_access_right(
    session: Session,
    *,
    client: SubsystemRef,
    service: ServiceRef,
    fields: Sequence[str],
    purposes: Sequence[PurposeGrant],
    valid_from: date,
    valid_to: date | None = None,
    law_enforcement: bool = False,
    disclosure_delay_days: int | None = None,
    own_residents_only: bool = False,
    actor: str,
) -> AccessRightRecord:
    """Let ``client`` call ``service`` for ``fields``, for each of ``purposes`` (with its legal
    basis), from ``valid_from`` until ``valid_to`` (exclusive; None: until revoked).

    A law-enforcement right names ``disclosure_delay_days``: the person sees each use only
    that many days after it. ``own_residents_only`` limits a local member's right to persons
    living in its municipality. A purpose whose ``lawful_basis`` is consent names a data
    agreement of the client's member that covers ``fields``; calls for it are answered only
    about persons whose consent to it is in force. Writes the right and its purposes (nothing
    if any input is invalid), counts a directory change, emits
    ``exchange.access_right_granted.v1``."""
    problems: list[dict[str, str]] = []
    client_row = _subsystem(session, client)
    if client_row is None:
        problems.append({"field": "client", "message": f"{client} is not registered"})
    service_row = _service(session, service)
    if service_row is None:
        problems.append({"field": "service", "message": f"{service} is not published"})
    else:
        known = set(service_row.fields)
        unknown = [f for f in fields if f not in known]
        if unknown:
            problems.append(
                {
                    "field": "fields",
                    "message": f"{', '.join(map(str, unknown))}: not field(s) of "
                    f"{service.service_code} (it has {', '.join(service_row.fields)})",
                }
            )
    if not fields:
        problems.append({"field": "fields", "message": "name at least one field"})
    elif len(set(fields)) != len(fields):
        problems.append({"field": "fields", "message": "name each field once"})
    _check_purposes(purposes, problems)
    _check_consent(session, purposes, client, service, service_row, fields, problems)
    if valid_to is not None and valid_to <= valid_from:
        problems.append({"field": "valid_to", "message": "must be after valid_from"})
    if law_enforcement:
        if disclosure_delay_days is None:
            problems.append(
                {
                    "field": "disclosure_delay_days",
                    "message": "a law-enforcement right names its disclosure delay",
                }
            )
        elif not 0 <= disclosure_delay_days <= MAX_DISCLOSURE_DELAY_DAYS:
            problems.append(
                {
                    "field": "disclosure_delay_days",
                    "message": f"must be 0 to {MAX_DISCLOSURE_DELAY_DAYS} days",
                }
            )
    elif disclosure_delay_days is not None:
        problems.append(
            {
                "field": "disclosure_delay_days",
                "message": "only a law-enforcement right delays disclosure",
            }
        )
    if own_residents_only:
        if client_row is not None and client_row[1].municipality_code is None:
            problems.append(
                {
                    "field": "own_residents_only",
                    "message": "only a member serving a municipality has residents",
                }
            )
        if service_row is not None and (
            service_row.kind != ServiceKind.REGISTRY.value
            or service_row.code not in REGISTRY_SERVICES
            or REGISTRY_SERVICES[service_row.code].subject_parameter != "personalCode"
        ):
            problems.append(
                {
                    "field": "own_residents_only",
                    "message": "applies only to registry services about a person",
                }
            )
    if problems or client_row is None or service_row is None:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    right = AccessRight(
        client_subsystem_id=client_row[0].id,
        service_id=service_row.id,
        fields=[f for f in service_row.fields if f in set(fields)],
        valid_from=valid_from,
        valid_to=valid_to,
        law_enforcement=law_enforcement,
        disclosure_delay_days=disclosure_delay_days,
        own_residents_only=own_residents_only,
        granted_at=utcnow(),
        granted_by=actor,
        revoked_at=None,
        revoked_by=None,
        revocation_reason=None,
    )
    session.add(right)
    session.flush()
    rows = [
        AccessRightPurpose(
            right_id=right.id,
            purpose=p.purpose,
            legal_basis=p.legal_basis.strip(),
            legal_basis_url=p.legal_basis_url,
            lawful_basis=p.lawful_basis.value,
            data_agreement_id=p.data_agreement_id,
        )
        for p in purposes
    ]
    session.add_all(rows)
    session.flush()
    bump_generation(session)
    record = _record(right, rows, _names_of(session, [right]))
    emit(
        session,
        AccessRightGranted(
            right_id=right.id,
            client=str(client),
            service=str(service),
            fields=list(right.fields),
            purposes=[p.purpose for p in purposes],
            valid_from=valid_from,
            valid_to=valid_to,
            law_enforcement=law_enforcement,
        ),
    )
    return record


def _purposes_of(session: Session, right_ids: Sequence[int]) -> dict[int, list[AccessRightPurpose]]:
    found: dict[int, list[AccessRightPurpose]] = {}
    for row in session.scalars(
        select(AccessRightPurpose)
        .where(AccessRightPurpose.right_id.in_(right_ids))
        .order_by(AccessRightPurpose.id)
    ):
        found.setdefault(row.right_id, []).append(row)
    return found


def get_access_right(session: Session, *, right_id: int) -> AccessRightRecord:
    """One right (``NotFound`` if there is none)."""
    right = session.get(AccessRight, right_id)
    if right is None:
        raise NotFound(f"no access right {right_id}")
    return _record(
        right, _purposes_of(session, [right.id]).get(right.id, []), _names_of(session, [right])
    )


def revoke_access_right(
    session: Session, *, right_id: int, reason: str, actor: str
) -> AccessRightRecord:
    """End a right now (it stops allowing calls within the directory's staleness bound, about
    a second). Counts a directory change, emits ``exchange.access_right_revoked.v1``.
    Revoking a revoked right changes nothing."""
    if not reason.strip() or len(reason) > 500:
        raise ValidationFailed(
            "reason: say why the right is revoked (1 to 500 characters)",
            errors=[{"field": "reason", "message": "1 to 500 characters"}],
        )
    right = session.get(AccessRight, right_id)
    if right is None:
        raise NotFound(f"no access right {right_id}")
    if right.revoked_at is None:
        right.revoked_at = utcnow()
        right.revoked_by = actor
        right.revocation_reason = reason.strip()
        session.flush()
        bump_generation(session)
        record = get_access_right(session, right_id=right_id)
        emit(
            session,
            AccessRightRevoked(
                right_id=right.id,
                client=record.client.split("/", 1)[1],
                service=record.service.split("/", 1)[1],
                reason=right.revocation_reason,
            ),
        )
        return record
    return get_access_right(session, right_id=right_id)


def list_access_rights(
    session: Session,
    *,
    page: PageRequest,
    client: SubsystemRef | None = None,
    service: ServiceRef | None = None,
    include_revoked: bool = False,
) -> Page[AccessRightRecord]:
    """Rights in the order they were granted (keyset pages), optionally of one client
    subsystem or one service; revoked ones only when asked."""
    statement: Select[AccessRight] = select(AccessRight)
    if client is not None:
        found = _subsystem(session, client)
        if found is None:
            raise NotFound(f"subsystem {client} is not registered")
        statement = statement.where(AccessRight.client_subsystem_id == found[0].id)
    if service is not None:
        service_row = _service(session, service)
        if service_row is None:
            raise NotFound(f"no service {service} is published")
        statement = statement.where(AccessRight.service_id == service_row.id)
    if not include_revoked:
        statement = statement.where(AccessRight.revoked_at.is_(None))
    rows, cursor = keyset_page(session, statement, keys=[AccessRight.id.expression], request=page)
    purposes = _purposes_of(session, [r.id for r in rows])
    names = _names_of(session, rows)
    items = [_record(r, purposes.get(r.id, []), names) for r in rows]
    return Page[AccessRightRecord](items=items, next_cursor=cursor)


def purposes_ever_granted(session: Session) -> set[tuple[str, str, str]]:
    """Every ``(client CLASS/MEMBER/SUBSYSTEM, service CLASS/MEMBER/SUBSYSTEM/SERVICE,
    purpose)`` a right was ever granted for, revoked ones too: what a set-up that grants
    rights it finds missing must not grant again."""
    client_member, client = aliased(Member), aliased(Subsystem)
    provider_member, provider = aliased(Member), aliased(Subsystem)
    rows = session.execute(
        select(
            client_member.member_class, client_member.member_code, client.code,
            provider_member.member_class, provider_member.member_code, provider.code,
            Service.code, AccessRightPurpose.purpose,
        )
        .join(AccessRight, AccessRightPurpose.right_id == AccessRight.id)
        .join(client, client.id == AccessRight.client_subsystem_id)
        .join(client_member, client_member.id == client.member_id)
        .join(Service, Service.id == AccessRight.service_id)
        .join(provider, provider.id == Service.subsystem_id)
        .join(provider_member, provider_member.id == provider.member_id)
    ).all()  # fmt: skip
    return {(f"{a}/{b}/{c}", f"{d}/{e}/{f}/{g}", purpose) for a, b, c, d, e, f, g, purpose in rows}
