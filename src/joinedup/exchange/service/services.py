"""Publishing services: the base registries' queries, and members' own REST services
described by an OpenAPI document."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import yaml
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.db import transaction_memo
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.core.settings import get_settings
from joinedup.exchange.directory import bump_generation
from joinedup.exchange.events import ServicePublished
from joinedup.exchange.models import Member, Service, Subsystem
from joinedup.exchange.registry_openapi import registry_openapi, write_openapi
from joinedup.exchange.registry_services import REGISTRY_SERVICES, RegistryService
from joinedup.exchange.registry_writes import WRITE_SERVICES, WriteService
from joinedup.exchange.schemas import (
    MemberClass,
    ServiceKind,
    ServiceRecord,
    ServiceRef,
    SubsystemRef,
)

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
#: Names of the metadata services: no service may take them.
RESERVED_CODES = frozenset({"listClients", "listMethods", "allowedMethods", "getOpenAPI"})
MAX_OPENAPI_BYTES = 1_000_000
MAX_FIELDS = 200
_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def _owner(session: Session, ref: SubsystemRef) -> tuple[Subsystem, Member] | None:
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


def service_record(service: Service, subsystem: Subsystem, member: Member) -> ServiceRecord:
    instance = get_settings().xroad_instance
    return ServiceRecord(
        id=service.id,
        xroad_id=f"{instance}/{member.member_class}/{member.member_code}/{subsystem.code}/"
        f"{service.code}",
        member_class=MemberClass(member.member_class),
        member_code=member.member_code,
        subsystem_code=subsystem.code,
        code=service.code,
        title=service.title,
        kind=ServiceKind(service.kind),
        registry_code=service.registry_code,
        fields=list(service.fields),
        log_bodies=service.log_bodies,
        base_url=service.base_url,
        version=service.version,
        published_at=service.published_at,
    )


def _publish(
    session: Session, service: Service, subsystem: Subsystem, member: Member
) -> ServiceRecord:
    session.add(service)
    session.flush()
    bump_generation(session)
    emit(
        session,
        ServicePublished(
            service_id=service.id,
            service=f"{member.member_class}/{member.member_code}/{subsystem.code}/{service.code}",
            kind=service.kind,
            fields=list(service.fields),
        ),
    )
    return service_record(service, subsystem, member)


def publish_registry_services(
    session: Session, *, actor: str, log_bodies: bool = False
) -> list[ServiceRecord]:
    """Publish every registry query (:data:`REGISTRY_SERVICES`) and write service
    (:data:`~joinedup.exchange.registry_writes.WRITE_SERVICES`, which always keep their
    bodies in the message log) as a service of the subsystem that keeps its registry;
    services already published are left as they are, and registries without an owner are
    skipped. Writes one service row and emits ``exchange.service_published.v1`` per new
    service; counts a directory change."""
    from joinedup import registries

    published = []
    for registry in registries.list_registries(session):
        owner = _owner(
            session,
            SubsystemRef(
                registry.owner_member_class,
                registry.owner_member_code,
                registry.owner_subsystem_code,
            ),
        )
        if owner is None:
            continue
        subsystem, member = owner
        declarations: list[RegistryService | WriteService] = [
            *REGISTRY_SERVICES.values(),
            *WRITE_SERVICES.values(),
        ]
        for declared in declarations:
            if declared.registry != registry.code:
                continue
            exists = session.scalar(
                select(Service.id).where(
                    Service.subsystem_id == subsystem.id, Service.code == declared.code
                )
            )
            if exists:
                continue
            service = Service(
                subsystem_id=subsystem.id,
                code=declared.code,
                title=declared.title,
                kind=ServiceKind.REGISTRY.value,
                registry_code=registry.code,
                fields=list(declared.field_names),
                # civil registration is evidence: its write services keep both bodies
                log_bodies=log_bodies or isinstance(declared, WriteService),
                base_url=None,
                openapi=None,
                version="v1",
                published_at=utcnow(),
                published_by=actor,
            )
            published.append(_publish(session, service, subsystem, member))
    return published


def parse_openapi(document: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI 3 document in ``document`` (JSON or YAML text, or already parsed), checked
    to have ``openapi: 3.x``, ``info`` with a title and version, and at least one path."""
    if isinstance(document, dict):
        parsed: Any = document
    else:
        raw = document.encode() if isinstance(document, str) else document
        if len(raw) > MAX_OPENAPI_BYTES:
            raise _bad("openapi", f"is larger than {MAX_OPENAPI_BYTES} bytes")
        try:
            parsed = json.loads(raw)
        except ValueError:
            try:
                parsed = yaml.safe_load(raw)
            except yaml.YAMLError as exc:
                raise _bad("openapi", "is neither JSON nor YAML") from exc
    if not isinstance(parsed, dict):
        raise _bad("openapi", "must be an OpenAPI document (a JSON or YAML object)")
    problems = []
    version = parsed.get("openapi")
    if not isinstance(version, str) or not re.match(r"^3\.\d+(\.\d+)?$", version):
        problems.append({"field": "openapi.openapi", "message": "must be an OpenAPI 3.x version"})
    info = parsed.get("info")
    if not isinstance(info, dict) or not info.get("title") or not info.get("version"):
        problems.append({"field": "openapi.info", "message": "must have a title and a version"})
    paths = parsed.get("paths")
    if not isinstance(paths, dict) or not paths:
        problems.append({"field": "openapi.paths", "message": "must name at least one path"})
    elif not all(isinstance(p, str) and p.startswith("/") for p in paths):
        problems.append({"field": "openapi.paths", "message": "every path must start with /"})
    elif not all(isinstance(item, dict) for item in paths.values()):
        problems.append({"field": "openapi.paths", "message": "every path must be an object"})
    if problems:
        raise ValidationFailed(
            "the OpenAPI document is not valid: "
            + "; ".join(f"{p['field']} {p['message']}" for p in problems),
            errors=problems,
        )
    try:
        json.dumps(parsed)
    except (TypeError, ValueError) as exc:  # YAML dates and the like
        raise _bad("openapi", "holds values JSON cannot represent (quote dates)") from exc
    return parsed


def _resolve(document: dict[str, Any], schema: Any) -> Any:
    """Follow local ``$ref`` pointers (``#/components/schemas/...``), a few levels deep."""
    for _ in range(10):
        if not isinstance(schema, dict) or "$ref" not in schema:
            return schema
        target: Any = document
        for part in str(schema["$ref"]).removeprefix("#/").split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        schema = target
    return schema


def openapi_fields(document: dict[str, Any]) -> list[str]:
    """The top-level properties of the JSON answers (2xx) of every operation."""
    found: list[str] = []
    for item in document.get("paths", {}).values():
        for method in _HTTP_METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            for status, response in (operation.get("responses") or {}).items():
                if not str(status).startswith("2"):
                    continue
                content = (_resolve(document, response) or {}).get("content") or {}
                for media in content.values():
                    schema = _resolve(document, (media or {}).get("schema"))
                    if isinstance(schema, dict) and schema.get("type") == "array":
                        schema = _resolve(document, schema.get("items"))
                    properties = schema.get("properties") if isinstance(schema, dict) else None
                    for name in properties or {}:
                        if name not in found:
                            found.append(str(name))
    return found


def openapi_endpoints(document: dict[str, Any]) -> list[dict[str, str]]:
    """``{method, path}`` of every operation in the document."""
    return [
        {"method": method.upper(), "path": path}
        for path, item in document.get("paths", {}).items()
        for method in _HTTP_METHODS
        if isinstance(item, dict) and method in item
    ]


def _bad(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field} {message}", errors=[{"field": field, "message": message}])


def _check_base_url(url: str, problems: list[dict[str, str]]) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append({"field": "base_url", "message": "must be an http(s) URL with a host"})
    elif parts.query or parts.fragment or parts.username or parts.password:
        problems.append({"field": "base_url", "message": "must have no query, fragment or user"})
    elif get_settings().is_production and parts.scheme != "https":
        problems.append({"field": "base_url", "message": "must use https in production"})
    else:
        try:
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            return
        if address.is_unspecified or address.is_multicast:
            problems.append({"field": "base_url", "message": "must name a reachable host"})


def register_rest_service(
    session: Session,
    *,
    provider: SubsystemRef,
    code: str,
    title: str,
    base_url: str,
    openapi: str | bytes | dict[str, Any],
    fields: Sequence[str] | None = None,
    log_bodies: bool = False,
    actor: str,
) -> ServiceRecord:
    """Publish a member's own REST service at ``base_url``, described by ``openapi`` (JSON or
    YAML). ``fields`` are the names rights restrict (default: the top-level properties of the
    document's JSON answers). Writes one service row, counts a directory change, emits
    ``exchange.service_published.v1``. Nothing is written if anything is invalid."""
    problems: list[dict[str, str]] = []
    if not _CODE.match(code):
        problems.append({"field": "code", "message": "1 to 64 letters, digits, '.', '_' or '-'"})
    elif code in RESERVED_CODES:
        problems.append({"field": "code", "message": "is the name of a metadata service"})
    if not title.strip() or len(title) > 300:
        problems.append({"field": "title", "message": "must be 1 to 300 characters"})
    _check_base_url(base_url, problems)
    owner = _owner(session, provider)
    if owner is None:
        problems.append({"field": "provider", "message": f"{provider} is not registered"})
    elif _CODE.match(code) and session.scalar(
        select(Service.id).where(Service.subsystem_id == owner[0].id, Service.code == code)
    ):
        problems.append({"field": "code", "message": f"{provider} publishes {code} already"})
    document: dict[str, Any] | None = None
    try:
        document = parse_openapi(openapi)
    except ValidationFailed as exc:
        problems.extend(exc.extensions.get("errors", []))
    names = list(fields) if fields is not None else (openapi_fields(document) if document else [])
    if document is not None or fields is not None:
        bad = [f for f in names if not isinstance(f, str) or not _FIELD.match(f)]
        if not names:
            problems.append(
                {"field": "fields", "message": "name the fields (none found in the document)"}
            )
        elif bad or len(names) > MAX_FIELDS or len(set(names)) != len(names):
            problems.append(
                {"field": "fields", "message": f"must be distinct names (at most {MAX_FIELDS})"}
            )
    if problems or owner is None or document is None:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    service = Service(
        subsystem_id=owner[0].id,
        code=code,
        title=title.strip(),
        kind=ServiceKind.REST.value,
        registry_code=None,
        fields=names,
        log_bodies=log_bodies,
        base_url=base_url.rstrip("/"),
        openapi=document,
        version=str(document["info"]["version"])[:20],
        published_at=utcnow(),
        published_by=actor,
    )
    return _publish(session, service, *owner)


def _load(session: Session, ref: ServiceRef) -> tuple[Service, Subsystem, Member]:
    row = session.execute(
        select(Service, Subsystem, Member)
        .join(Subsystem, Service.subsystem_id == Subsystem.id)
        .join(Member, Subsystem.member_id == Member.id)
        .where(
            Member.member_class == ref.member_class,
            Member.member_code == ref.member_code,
            Subsystem.code == ref.subsystem_code,
            Service.code == ref.service_code,
        )
    ).first()
    if row is None:
        raise NotFound(f"no service {ref} is published")
    return row[0], row[1], row[2]


#: The transaction memo of the registry services found (code → where it is published).
_REGISTRY_REFS = "exchange.registry_service_refs"


def registry_service_ref(session: Session, *, code: str) -> ServiceRef:
    """Where the registry query ``code`` (``person``, ``residence``, …) is published: the
    service of the subsystem that keeps its registry, the first published (``NotFound``
    while unpublished). Looked up once per transaction: a batch of deaths asks four times a
    death; services are never unpublished, and one published later comes after it."""
    found = transaction_memo(session, _REGISTRY_REFS)
    if code not in found:
        found[code] = _registry_service_ref(session, code)
    ref: ServiceRef = found[code]
    return ref


def _registry_service_ref(session: Session, code: str) -> ServiceRef:
    row = session.execute(
        select(Member.member_class, Member.member_code, Subsystem.code)
        .select_from(Service)
        .join(Subsystem, Service.subsystem_id == Subsystem.id)
        .join(Member, Subsystem.member_id == Member.id)
        .where(Service.kind == ServiceKind.REGISTRY.value, Service.code == code)
        .order_by(Service.id)
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"no registry service {code!r} is published", service=code)
    return ServiceRef(row[0], row[1], row[2], code)


def get_service(session: Session, *, service: ServiceRef) -> ServiceRecord:
    """One published service (``NotFound`` if there is none)."""
    return service_record(*_load(session, service))


def service_openapi(session: Session, *, service: ServiceRef) -> dict[str, Any]:
    """The OpenAPI document of a service: as registered (REST services) or built from its
    declaration (registry services)."""
    row, subsystem, member = _load(session, service)
    if row.kind == ServiceKind.REST.value and row.openapi is not None:
        return row.openapi
    xroad_id = service_record(row, subsystem, member).xroad_id
    if row.code in WRITE_SERVICES:
        return write_openapi(WRITE_SERVICES[row.code], xroad_id=xroad_id, version=row.version)
    return registry_openapi(REGISTRY_SERVICES[row.code], xroad_id=xroad_id, version=row.version)


def list_services(
    session: Session, *, page: PageRequest, provider: SubsystemRef | None = None
) -> Page[ServiceRecord]:
    """Published services in publication order (keyset pages), optionally of one provider."""
    statement: Select[Service] = select(Service)
    if provider is not None:
        owner = _owner(session, provider)
        if owner is None:
            raise NotFound(f"subsystem {provider} is not registered")
        statement = statement.where(Service.subsystem_id == owner[0].id)
    rows, cursor = keyset_page(session, statement, keys=[Service.id.expression], request=page)
    owners = {
        s.id: (s, m)
        for s, m in session.execute(
            select(Subsystem, Member)
            .join(Member, Subsystem.member_id == Member.id)
            .where(Subsystem.id.in_({r.subsystem_id for r in rows}))
        )
    }
    items = [service_record(r, *owners[r.subsystem_id]) for r in rows]
    return Page[ServiceRecord](items=items, next_cursor=cursor)
