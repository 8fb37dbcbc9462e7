"""The service catalogue's use cases: catalogue a service, read the catalogue.

Every service names its owning agency (an exchange member) and the subsystem that decides for
it, the life events that concern it and whom, its delivery mode, the ruleset variable that
decides eligibility and amount, the exchange purpose its inputs are read for, and its legal
and lawful basis (a law, or the person's consent to a data agreement of the owner's).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup import consent, exchange, rules
from joinedup.catalogue.events import ServiceCatalogued
from joinedup.catalogue.models import CatalogueLifeEvent
from joinedup.catalogue.models import CatalogueService as ServiceRow
from joinedup.catalogue.schemas import (
    CONCERNED_BY,
    CatalogueService,
    Concerns,
    DeliveryMode,
    LawfulBasis,
    Level,
    LifeEvent,
    LifeEventRule,
    Owner,
)
from joinedup.core import i18n
from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page

SERVICE_CODE = re.compile(r"[a-z][a-z0-9-]{1,63}")
_MAX_NAME, _MAX_DESCRIPTION = 200, 2000
#: The longest time to answer an offer a service may give (ten years).
MAX_RESPOND_DAYS = 3650


def _enum(problems: list[dict[str, str]], field: str, kind: type[Any], value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        problems.append({"field": field, "message": f"must be one of {choices}"})
        return None


def catalogue_service(
    session: Session,
    *,
    code: str,
    names: Mapping[str, str],
    descriptions: Mapping[str, str],
    owner: str,
    level: Level | str,
    delivery_mode: DeliveryMode | str,
    life_events: Sequence[tuple[LifeEvent | str, Concerns | str]],
    ruleset: str,
    variable: str,
    purpose: str,
    legal_basis: str,
    legal_basis_url: str | None = None,
    lawful_basis: LawfulBasis | str = LawfulBasis.LAW,
    data_agreement_id: uuid.UUID | None = None,
    apply_url: str | None = None,
    per_occasion: bool = False,
    applicant_inputs: Sequence[str] = (),
    respond_within_days: int | None = None,
    actor: str,
) -> CatalogueService:
    """Add a service to the catalogue, or revise its entry (same ``code``).

    ``owner`` is ``CLASS/MEMBER/SUBSYSTEM``: the owning agency and the subsystem that reads
    the inputs and decides. Validates everything before writing (``ValidationFailed`` naming
    each field): a registered owner, a known ruleset variable, life events that can concern
    whom they name, a data agreement of the owner's when the lawful basis is consent, and
    ``applicant_inputs`` that are input variables of the ruleset (what an applicant declares
    in an online application: a number, a yes or no, or one of a list), and
    ``respond_within_days`` (1 to 3,650, offers only): the days a person has to accept an offer
    before it lapses.
    Changes ``catalogue_service`` and ``catalogue_life_event``; emits
    ``catalogue.service_catalogued.v1``."""
    problems: list[dict[str, str]] = []
    if not SERVICE_CODE.fullmatch(code or ""):
        problems.append({"field": "code", "message": "must be 2-64 of a-z, 0-9 and -"})
    name_texts = i18n.checked_texts(problems, "names", names, _MAX_NAME)
    description_texts = i18n.checked_texts(problems, "descriptions", descriptions, _MAX_DESCRIPTION)
    level_value = _enum(problems, "level", Level, level)
    mode = _enum(problems, "delivery_mode", DeliveryMode, delivery_mode)
    basis = _enum(problems, "lawful_basis", LawfulBasis, lawful_basis)
    rules_seen: list[tuple[LifeEvent, Concerns]] = []
    for position, (event, concerns) in enumerate(life_events):
        field = f"life_events[{position}]"
        found_event = _enum(problems, f"{field}.life_event", LifeEvent, event)
        found_concerns = _enum(problems, f"{field}.concerns", Concerns, concerns)
        if found_event is None or found_concerns is None:
            continue
        if found_concerns not in CONCERNED_BY[found_event]:
            allowed = ", ".join(sorted(c.value for c in CONCERNED_BY[found_event]))
            problems.append(
                {"field": field, "message": f"a {found_event.value} concerns only {allowed}"}
            )
        elif (found_event, found_concerns) in rules_seen:
            problems.append({"field": field, "message": "is listed twice"})
        else:
            rules_seen.append((found_event, found_concerns))
    if mode is not None and mode is not DeliveryMode.APPLICATION and not rules_seen:
        problems.append(
            {"field": "life_events", "message": "a proactive service reacts to a life event"}
        )
    parts = (owner or "").split("/")
    member = None
    if len(parts) != 3 or "" in parts:
        problems.append({"field": "owner", "message": "must be CLASS/MEMBER/SUBSYSTEM"})
    else:
        try:
            member = exchange.get_member(session, member_class=parts[0], member_code=parts[1])
            exchange.get_subsystem(
                session, member_class=parts[0], member_code=parts[1], subsystem_code=parts[2]
            )
        except NotFound:
            problems.append({"field": "owner", "message": f"{owner} is not registered"})
    try:
        rules.get_ruleset(ruleset).variable(variable)
    except (rules.UnknownRuleset, ValidationFailed):
        problems.append({"field": "variable", "message": f"{ruleset} has no variable {variable}"})
    else:
        _check_inputs(problems, ruleset, applicant_inputs)
    if not (purpose or "").strip() or len(purpose) > 100:
        problems.append({"field": "purpose", "message": "must be 1 to 100 characters"})
    if not (legal_basis or "").strip() or len(legal_basis) > 300:
        problems.append({"field": "legal_basis", "message": "must be 1 to 300 characters"})
    for field, url in (("legal_basis_url", legal_basis_url), ("apply_url", apply_url)):
        if url is not None and (not url.startswith(("https://", "/")) or len(url) > 500):
            problems.append({"field": field, "message": "must be an https:// or local link"})
    if basis is LawfulBasis.CONSENT:
        if data_agreement_id is None:
            problems.append(
                {"field": "data_agreement_id", "message": "consent needs its data agreement"}
            )
        else:
            try:
                agreement = consent.get_data_agreement(session, agreement_id=data_agreement_id)
                if member is not None and agreement.controller != f"{parts[0]}/{parts[1]}":
                    problems.append(
                        {
                            "field": "data_agreement_id",
                            "message": "the data agreement is another controller's",
                        }
                    )
            except NotFound:
                problems.append({"field": "data_agreement_id", "message": "no such data agreement"})
    elif basis is LawfulBasis.LAW and data_agreement_id is not None:
        problems.append(
            {"field": "data_agreement_id", "message": "only a consent basis names an agreement"}
        )
    if respond_within_days is not None:
        if (
            isinstance(respond_within_days, bool)
            or not isinstance(respond_within_days, int)
            or not 1 <= respond_within_days <= MAX_RESPOND_DAYS
        ):
            problems.append(
                {
                    "field": "respond_within_days",
                    "message": f"must be a whole number of days from 1 to {MAX_RESPOND_DAYS:,}",
                }
            )
        elif mode is not None and mode is not DeliveryMode.PROACTIVE_OFFER:
            problems.append(
                {"field": "respond_within_days", "message": "only an offer has a time to answer"}
            )
    if problems:
        raise ValidationFailed("The service cannot be catalogued as given.", errors=problems)
    assert member is not None
    row = session.scalar(select(ServiceRow).where(ServiceRow.code == code))
    revised = row is not None
    if row is None:
        row = ServiceRow(code=code, created_at=utcnow(), created_by=actor[:100], active=True)
        session.add(row)
    row.names, row.descriptions = name_texts, description_texts
    row.owner_member_class, row.owner_member_code, row.owner_subsystem = parts
    row.level, row.delivery_mode = level_value.value, mode.value
    row.ruleset, row.variable, row.per_occasion = ruleset, variable, per_occasion
    row.purpose, row.legal_basis, row.legal_basis_url = purpose, legal_basis, legal_basis_url
    row.lawful_basis, row.data_agreement_id = basis.value, data_agreement_id
    row.apply_url = apply_url
    row.applicant_inputs = list(dict.fromkeys(applicant_inputs))
    row.respond_within_days = respond_within_days
    row.life_events = [
        CatalogueLifeEvent(life_event=event.value, concerns=concerns.value, position=position)
        for position, (event, concerns) in enumerate(rules_seen)
    ]
    session.flush()
    emit(
        session,
        ServiceCatalogued(
            code=code, owner_member_code=parts[1], delivery_mode=mode.value, revised=revised
        ),
    )
    return _record(row, member)


#: The value types an applicant can declare in a form.
DECLARABLE = ("money", "int", "float", "bool", "enum")


def _check_inputs(problems: list[dict[str, str]], ruleset: str, names: Sequence[str]) -> None:
    found = rules.get_ruleset(ruleset)
    for position, name in enumerate(names):
        field = f"applicant_inputs[{position}]"
        try:
            declared = found.variable(name)
        except ValidationFailed:
            problems.append({"field": field, "message": f"{ruleset} has no variable {name}"})
            continue
        if not declared.is_input:
            problems.append({"field": field, "message": f"{name} is worked out, not declared"})
        elif declared.value_type.value not in DECLARABLE:
            problems.append({"field": field, "message": f"{name} cannot be asked in a form"})


def _record(row: ServiceRow, member: exchange.MemberRecord) -> CatalogueService:
    return CatalogueService(
        code=row.code,
        names=dict(row.names),
        descriptions=dict(row.descriptions),
        owner=Owner(
            member_class=row.owner_member_class,
            member_code=row.owner_member_code,
            subsystem=row.owner_subsystem,
            name=member.name,
            municipality_code=member.municipality_code,
        ),
        level=Level(row.level),
        delivery_mode=DeliveryMode(row.delivery_mode),
        life_events=[
            LifeEventRule(life_event=LifeEvent(e.life_event), concerns=Concerns(e.concerns))
            for e in row.life_events
        ],
        ruleset=row.ruleset,
        variable=row.variable,
        per_occasion=row.per_occasion,
        purpose=row.purpose,
        legal_basis=row.legal_basis,
        legal_basis_url=row.legal_basis_url,
        lawful_basis=LawfulBasis(row.lawful_basis),
        data_agreement_id=row.data_agreement_id,
        apply_url=row.apply_url,
        applicant_inputs=list(row.applicant_inputs or []),
        respond_within_days=row.respond_within_days,
        active=row.active,
    )


def _records(session: Session, rows: Sequence[ServiceRow]) -> list[CatalogueService]:
    members: dict[tuple[str, str], exchange.MemberRecord] = {}
    for row in rows:
        key = (row.owner_member_class, row.owner_member_code)
        if key not in members:
            members[key] = exchange.get_member(session, member_class=key[0], member_code=key[1])
    return [_record(row, members[(row.owner_member_class, row.owner_member_code)]) for row in rows]


def get_catalogued_service(session: Session, *, code: str) -> CatalogueService:
    """The service ``code`` (``NotFound`` if it is not catalogued). Reads only."""
    row = session.scalar(select(ServiceRow).where(ServiceRow.code == code))
    if row is None:
        raise NotFound(f"no service {code!r} is catalogued", code=code)
    return _records(session, [row])[0]


def get_catalogued_services(
    session: Session, *, codes: Collection[str]
) -> dict[str, CatalogueService]:
    """The catalogued services among ``codes``, by code; a code not catalogued is left out.
    Read together — the services and their life events in two queries, each owner once — not
    one code at a time (a person's entitlements page names several services). Reads only."""
    wanted = list(dict.fromkeys(codes))
    if not wanted:
        return {}
    rows = session.scalars(select(ServiceRow).where(ServiceRow.code.in_(wanted))).all()
    return {record.code: record for record in _records(session, rows)}


def list_catalogued_services(
    session: Session,
    *,
    life_event: LifeEvent | str | None = None,
    owner_member_code: str | None = None,
    delivery_mode: DeliveryMode | str | None = None,
    page: PageRequest | None = None,
) -> Page[CatalogueService]:
    """Active catalogued services by code, in keyset pages; optionally only those a life
    event concerns, of one owner, or of one delivery mode. Reads only."""
    statement = select(ServiceRow).where(ServiceRow.active.is_(True))
    if life_event is not None:
        problems: list[dict[str, str]] = []
        event = _enum(problems, "life_event", LifeEvent, life_event)
        if event is None:
            raise ValidationFailed("life_event is not a known life event", errors=problems)
        statement = statement.where(
            ServiceRow.id.in_(
                select(CatalogueLifeEvent.service_id).where(
                    CatalogueLifeEvent.life_event == event.value
                )
            )
        )
    if delivery_mode is not None:
        problems = []
        mode = _enum(problems, "delivery_mode", DeliveryMode, delivery_mode)
        if mode is None:
            raise ValidationFailed("delivery_mode is not a known delivery mode", errors=problems)
        statement = statement.where(ServiceRow.delivery_mode == mode.value)
    if owner_member_code is not None:
        statement = statement.where(ServiceRow.owner_member_code == owner_member_code)
    rows, next_cursor = keyset_page(
        session, statement, keys=[ServiceRow.__table__.c.code], request=page or PageRequest()
    )
    return Page[CatalogueService](items=_records(session, rows), next_cursor=next_cursor)


def services_for_life_event(session: Session, *, life_event: LifeEvent) -> list[CatalogueService]:
    """Every active service a life event concerns (for the proactive services). Reads only."""
    rows = session.scalars(
        select(ServiceRow)
        .where(
            ServiceRow.active.is_(True),
            ServiceRow.id.in_(
                select(CatalogueLifeEvent.service_id).where(
                    CatalogueLifeEvent.life_event == life_event.value
                )
            ),
        )
        .order_by(ServiceRow.code)
    ).all()
    return _records(session, rows)


def active_services(
    session: Session,
    *,
    owner_member_class: str | None = None,
    owner_member_code: str | None = None,
    delivery_mode: DeliveryMode | None = None,
) -> list[CatalogueService]:
    """Every active service (of one owner, of one delivery mode), by code, in one read — for
    the platform's own jobs and checks; people and integrators page through
    :func:`list_catalogued_services`. Reads only."""
    statement = select(ServiceRow).where(ServiceRow.active.is_(True))
    if owner_member_class is not None:
        statement = statement.where(ServiceRow.owner_member_class == owner_member_class)
    if owner_member_code is not None:
        statement = statement.where(ServiceRow.owner_member_code == owner_member_code)
    if delivery_mode is not None:
        statement = statement.where(ServiceRow.delivery_mode == delivery_mode.value)
    return _records(session, session.scalars(statement.order_by(ServiceRow.code)).all())


def services_by_life_event(session: Session) -> dict[LifeEvent, list[CatalogueService]]:
    """The portal's home: every life event (in order) with the active services it concerns."""
    rows = session.scalars(select(ServiceRow).where(ServiceRow.active.is_(True))).all()
    by_event: dict[LifeEvent, list[CatalogueService]] = {event: [] for event in LifeEvent}
    for record in sorted(_records(session, rows), key=lambda r: r.code):
        for event in dict.fromkeys(rule.life_event for rule in record.life_events):
            by_event[event].append(record)
    return by_event


__all__ = [
    "active_services",
    "catalogue_service",
    "get_catalogued_service",
    "get_catalogued_services",
    "list_catalogued_services",
    "services_by_life_event",
    "services_for_life_event",
]
