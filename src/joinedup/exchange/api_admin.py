"""Administering the exchange over HTTP: members, subsystems, services, access rights and API
clients, under ``/api/v1/exchange``.

**Who may.** Every endpoint here requires an access token (``Authorization: Bearer``, from
``POST /oauth/token``) of a client whose subsystem is an exchange **administrator**
(:func:`joinedup.exchange.appoint_administrator`) — in the demo country, the Central Digital
Office's ``exchange-admin`` subsystem. Writes are recorded with the administrator's client as
the actor (``client:<client id>``).

``exchange`` sits below the web layer, so its sessions are built here on the application's
:class:`~joinedup.core.db.Database`, function-scoped like the web layer's (the commit happens
before the response is sent).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field

from joinedup.core.errors import Forbidden
from joinedup.core.http import ReadSession, WriteSession, get_database
from joinedup.core.pagination import DEFAULT_LIMIT, Page, PageRequest
from joinedup.core.settings import get_settings
from joinedup.exchange.access import ClientIdentity
from joinedup.exchange.directory import current_directory
from joinedup.exchange.oauth import authenticate_client
from joinedup.exchange.schemas import (
    AccessRightRecord,
    ApiClientRecord,
    MemberClass,
    MemberLevel,
    MemberRecord,
    NewApiClient,
    PurposeGrant,
    PurposeRecord,
    ServiceRecord,
    ServiceRef,
    SubsystemRecord,
    SubsystemRef,
)
from joinedup.exchange.service import (
    describe_purpose,
    get_access_right,
    get_member,
    get_purpose,
    get_service,
    grant_access_right,
    list_access_rights,
    list_api_clients,
    list_members,
    list_purposes,
    list_services,
    list_subsystems,
    publish_registry_services,
    register_api_client,
    register_member,
    register_rest_service,
    register_subsystem,
    revoke_access_right,
    revoke_api_client,
    service_openapi,
)


def _administrator(request: Request) -> ClientIdentity:
    with get_database(request).reading() as session:
        client = authenticate_client(session, authorization=request.headers.get("authorization"))
        if client.subsystem_id not in current_directory(session).administrators:
            raise Forbidden(
                f"{client.xroad_id} is not an exchange administrator: only the clients of an "
                "administrator subsystem may change the exchange's directory and rights"
            )
    return client


Administrator = Annotated[ClientIdentity, Depends(_administrator)]

router = APIRouter(prefix="/api/v1/exchange", tags=["exchange: administration"])


def _actor(client: ClientIdentity) -> str:
    return f"client:{client.client_id}"


def _page(cursor: str | None, limit: int) -> PageRequest:
    return PageRequest(cursor=cursor, limit=limit)


def _subsystem(text: str) -> SubsystemRef:
    return SubsystemRef.parse(text, instance=get_settings().xroad_instance)


def _service(text: str) -> ServiceRef:
    return ServiceRef.parse(text, instance=get_settings().xroad_instance)


Cursor = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]
Limit = Annotated[int, Query(ge=1, le=500)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemberIn(_Body):
    member_class: MemberClass
    member_code: str
    name: str
    level: MemberLevel
    parent: str | None = Field(None, description="The parent member, CLASS/CODE.")
    region_code: str | None = None
    municipality_code: str | None = None


class SubsystemIn(_Body):
    subsystem_code: str
    name: str


class RestServiceIn(_Body):
    provider: str = Field(description="The provider subsystem, [INSTANCE/]CLASS/MEMBER/SUBSYSTEM.")
    code: str
    title: str
    base_url: str
    openapi: dict[str, Any] | str = Field(description="The OpenAPI 3 document (JSON or YAML).")
    fields: list[str] | None = Field(None, description="Default: from the document's answers.")
    log_bodies: bool = False


class AccessRightIn(_Body):
    client: str = Field(description="The client subsystem, [INSTANCE/]CLASS/MEMBER/SUBSYSTEM.")
    service: str = Field(description="[INSTANCE/]CLASS/MEMBER/SUBSYSTEM/SERVICE")
    fields: list[str]
    purposes: list[PurposeGrant]
    valid_from: date
    valid_to: date | None = Field(None, description="Exclusive; null: until revoked.")
    law_enforcement: bool = False
    disclosure_delay_days: int | None = None
    own_residents_only: bool = False


class RevocationIn(_Body):
    reason: str


class ApiClientIn(_Body):
    subsystem: str = Field(description="[INSTANCE/]CLASS/MEMBER/SUBSYSTEM it authenticates as.")
    name: str


@router.get("/members", summary="Members of the exchange")
def get_members(
    _: Administrator,
    session: ReadSession,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    member_class: MemberClass | None = None,
    level: MemberLevel | None = None,
) -> Page[MemberRecord]:
    return list_members(session, page=_page(cursor, limit), member_class=member_class, level=level)


@router.post("/members", status_code=status.HTTP_201_CREATED, summary="Register a member")
def post_member(body: MemberIn, admin: Administrator, session: WriteSession) -> MemberRecord:
    parent = None
    if body.parent is not None:
        member_class, _, member_code = body.parent.partition("/")
        parent = (member_class, member_code)
    return register_member(
        session,
        member_class=body.member_class,
        member_code=body.member_code,
        name=body.name,
        level=body.level,
        parent=parent,
        region_code=body.region_code,
        municipality_code=body.municipality_code,
        actor=_actor(admin),
    )


@router.get("/members/{member_class}/{member_code}", summary="One member")
def get_one_member(
    member_class: MemberClass, member_code: str, _: Administrator, session: ReadSession
) -> MemberRecord:
    return get_member(session, member_class=member_class, member_code=member_code)


@router.get("/members/{member_class}/{member_code}/subsystems", summary="A member's subsystems")
def get_subsystems(
    member_class: MemberClass, member_code: str, _: Administrator, session: ReadSession
) -> list[SubsystemRecord]:
    return list_subsystems(session, member_class=member_class, member_code=member_code)


@router.post(
    "/members/{member_class}/{member_code}/subsystems",
    status_code=status.HTTP_201_CREATED,
    summary="Register a subsystem of a member",
)
def post_subsystem(
    member_class: MemberClass,
    member_code: str,
    body: SubsystemIn,
    admin: Administrator,
    session: WriteSession,
) -> SubsystemRecord:
    return register_subsystem(
        session,
        member_class=member_class,
        member_code=member_code,
        subsystem_code=body.subsystem_code,
        name=body.name,
        actor=_actor(admin),
    )


@router.get("/services", summary="Published services")
def get_services(
    _: Administrator,
    session: ReadSession,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    provider: str | None = None,
) -> Page[ServiceRecord]:
    return list_services(
        session,
        page=_page(cursor, limit),
        provider=_subsystem(provider) if provider is not None else None,
    )


@router.post(
    "/services",
    status_code=status.HTTP_201_CREATED,
    summary="Publish a member's REST service by its OpenAPI document",
)
def post_service(body: RestServiceIn, admin: Administrator, session: WriteSession) -> ServiceRecord:
    return register_rest_service(
        session,
        provider=_subsystem(body.provider),
        code=body.code,
        title=body.title,
        base_url=body.base_url,
        openapi=body.openapi,
        fields=body.fields,
        log_bodies=body.log_bodies,
        actor=_actor(admin),
    )


@router.post(
    "/services/registry",
    summary="Publish every base registry's queries as services of the registry's keeper",
)
def post_registry_services(admin: Administrator, session: WriteSession) -> list[ServiceRecord]:
    return publish_registry_services(session, actor=_actor(admin))


@router.get("/services/{member_class}/{member_code}/{subsystem_code}/{code}", summary="A service")
def get_one_service(
    member_class: str,
    member_code: str,
    subsystem_code: str,
    code: str,
    _: Administrator,
    session: ReadSession,
) -> ServiceRecord:
    ref = ServiceRef(member_class, member_code, subsystem_code, code)
    return get_service(session, service=ref)


@router.get(
    "/services/{member_class}/{member_code}/{subsystem_code}/{code}/openapi",
    summary="A service's OpenAPI document",
)
def get_service_openapi(
    member_class: str,
    member_code: str,
    subsystem_code: str,
    code: str,
    _: Administrator,
    session: ReadSession,
) -> dict[str, Any]:
    ref = ServiceRef(member_class, member_code, subsystem_code, code)
    return service_openapi(session, service=ref)


@router.get("/rights", summary="Access rights")
def get_rights(
    _: Administrator,
    session: ReadSession,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    client: str | None = None,
    service: str | None = None,
    include_revoked: bool = False,
) -> Page[AccessRightRecord]:
    return list_access_rights(
        session,
        page=_page(cursor, limit),
        client=_subsystem(client) if client is not None else None,
        service=_service(service) if service is not None else None,
        include_revoked=include_revoked,
    )


@router.post("/rights", status_code=status.HTTP_201_CREATED, summary="Grant an access right")
def post_right(
    body: AccessRightIn, admin: Administrator, session: WriteSession
) -> AccessRightRecord:
    return grant_access_right(
        session,
        client=_subsystem(body.client),
        service=_service(body.service),
        fields=body.fields,
        purposes=body.purposes,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        law_enforcement=body.law_enforcement,
        disclosure_delay_days=body.disclosure_delay_days,
        own_residents_only=body.own_residents_only,
        actor=_actor(admin),
    )


class PurposeIn(_Body):
    names: dict[str, str] = Field(
        description="What the purpose means, per language (`en` required), in words the "
        'person whose data is read understands: it is what "Who used my data" shows as why.'
    )


@router.get("/purposes", summary="The purposes of the access rights, in words")
def get_purposes(
    _: Administrator, session: ReadSession, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
) -> Page[PurposeRecord]:
    return list_purposes(session, page=_page(cursor, limit))


@router.get("/purposes/{code}", summary="One purpose, in words")
def get_one_purpose(code: str, _: Administrator, session: ReadSession) -> PurposeRecord:
    return get_purpose(session, code=code)


@router.put("/purposes/{code}", summary="Say what a purpose means (replaces its words)")
def put_purpose(
    code: str, body: PurposeIn, admin: Administrator, session: WriteSession
) -> PurposeRecord:
    return describe_purpose(session, code=code, names=body.names, actor=_actor(admin))


@router.get("/rights/{right_id}", summary="One access right")
def get_right(right_id: int, _: Administrator, session: ReadSession) -> AccessRightRecord:
    return get_access_right(session, right_id=right_id)


@router.post("/rights/{right_id}/revoke", summary="Revoke an access right")
def post_revoke_right(
    right_id: int, body: RevocationIn, admin: Administrator, session: WriteSession
) -> AccessRightRecord:
    return revoke_access_right(session, right_id=right_id, reason=body.reason, actor=_actor(admin))


@router.get("/clients", summary="API clients")
def get_clients(
    _: Administrator,
    session: ReadSession,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
    subsystem: str | None = None,
) -> Page[ApiClientRecord]:
    return list_api_clients(
        session,
        page=_page(cursor, limit),
        subsystem=_subsystem(subsystem) if subsystem is not None else None,
    )


@router.post(
    "/clients",
    status_code=status.HTTP_201_CREATED,
    summary="Create an API client for a subsystem (its secret is shown once)",
)
def post_client(body: ApiClientIn, admin: Administrator, session: WriteSession) -> NewApiClient:
    return register_api_client(
        session, subsystem=_subsystem(body.subsystem), name=body.name, actor=_actor(admin)
    )


@router.post("/clients/{client_id}/revoke", summary="Revoke an API client")
def post_revoke_client(
    client_id: str, admin: Administrator, session: WriteSession
) -> ApiClientRecord:
    return revoke_api_client(session, client_id=client_id, actor=_actor(admin))
