"""The X-Road metadata services (X-Road's "metaservices"; GovStack IM's directory API):
``listClients``, ``listMethods``, ``allowedMethods`` and ``getOpenAPI``.

Answers are shaped as in the GovStack Information Mediator directory specification
(``restClientDetailsListType``, ``restServiceDetailsListType``): a subsystem is an
``APPLICATION`` with its ``applicationCode``. ``allowedMethods`` lists only the services the
authenticated client holds an access right in force to.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.errors import NotFound
from joinedup.core.settings import get_settings
from joinedup.exchange.access import ClientIdentity
from joinedup.exchange.directory import current_directory
from joinedup.exchange.models import Member, Service, Subsystem
from joinedup.exchange.registry_writes import WRITE_SERVICES
from joinedup.exchange.schemas import ServiceKind, ServiceRef, SubsystemRef
from joinedup.exchange.service.services import openapi_endpoints, service_openapi


def list_clients(session: Session, *, instance_id: str | None = None) -> dict[str, Any]:
    """Every member and subsystem of the federation (``instance_id``: ours or nothing)."""
    instance = get_settings().xroad_instance
    if instance_id is not None and instance_id != instance:
        raise NotFound(f"this exchange federates no instance {instance_id!r}")
    members = list(
        session.scalars(select(Member).order_by(Member.member_class, Member.member_code))
    )
    subsystems: dict[int, list[Subsystem]] = {}
    for subsystem in session.scalars(select(Subsystem).order_by(Subsystem.code)):
        subsystems.setdefault(subsystem.member_id, []).append(subsystem)
    found: list[dict[str, Any]] = []
    for member in members:
        identifier = {
            "instanceId": instance,
            "memberClass": member.member_class,
            "memberCode": member.member_code,
        }
        found.append({"name": member.name, "id": {"objectType": "MEMBER", **identifier}})
        found.extend(
            {
                "name": subsystem.name,
                "id": {
                    "objectType": "APPLICATION",
                    **identifier,
                    "applicationCode": subsystem.code,
                },
            }
            for subsystem in subsystems.get(member.id, [])
        )
    return {"member": found}


def _provider(session: Session, provider: SubsystemRef) -> Subsystem:
    subsystem = session.scalar(
        select(Subsystem)
        .join(Member, Subsystem.member_id == Member.id)
        .where(
            Member.member_class == provider.member_class,
            Member.member_code == provider.member_code,
            Subsystem.code == provider.subsystem_code,
        )
    )
    if subsystem is None:
        raise NotFound(f"subsystem {provider} is not registered")
    return subsystem


def _details(provider: SubsystemRef, service: Service) -> dict[str, Any]:
    if service.kind == ServiceKind.REST.value and service.openapi is not None:
        endpoints = openapi_endpoints(service.openapi)
    elif service.code in WRITE_SERVICES:  # the registries' write services take a body
        endpoints = [{"method": "POST", "path": "/"}]
    else:
        endpoints = [{"method": "GET", "path": "/"}]
    return {
        "objectType": "SERVICE",
        "serviceType": "OPENAPI" if service.kind == ServiceKind.REST.value else "REST",
        "instanceId": get_settings().xroad_instance,
        "memberClass": provider.member_class,
        "memberCode": provider.member_code,
        "applicationCode": provider.subsystem_code,
        "serviceCode": service.code,
        "serviceVersion": service.version,
        "title": service.title,
        "endpointList": {"member": endpoints},
    }


def _services(session: Session, subsystem: Subsystem, service_code: str | None) -> list[Service]:
    statement = select(Service).where(Service.subsystem_id == subsystem.id).order_by(Service.code)
    if service_code is not None:
        statement = statement.where(Service.code == service_code)
    return list(session.scalars(statement))


def list_methods(
    session: Session, *, provider: SubsystemRef, service_code: str | None = None
) -> dict[str, Any]:
    """Every service (with its endpoints) the provider subsystem publishes."""
    subsystem = _provider(session, provider)
    return {"member": [_details(provider, s) for s in _services(session, subsystem, service_code)]}


def allowed_methods(
    session: Session,
    *,
    client: ClientIdentity,
    provider: SubsystemRef,
    on: date,
    service_code: str | None = None,
) -> dict[str, Any]:
    """The provider's services ``client`` holds an access right in force to on ``on``."""
    subsystem = _provider(session, provider)
    directory = current_directory(session)
    allowed = []
    for service in _services(session, subsystem, service_code):
        rights = directory.rights.get((client.subsystem_id, service.id), ())
        if any(r.valid_from <= on and (r.valid_to is None or on < r.valid_to) for r in rights):
            allowed.append(_details(provider, service))
    return {"member": allowed}


def get_openapi(session: Session, *, provider: SubsystemRef, service_code: str) -> dict[str, Any]:
    """The OpenAPI document of one of the provider's services."""
    return service_openapi(
        session,
        service=ServiceRef(
            provider.member_class, provider.member_code, provider.subsystem_code, service_code
        ),
    )
