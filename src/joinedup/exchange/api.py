"""The exchange over HTTP: the OAuth 2.0 token endpoint, the X-Road metadata services, the
administration API (:mod:`joinedup.exchange.api_admin`) and the mediation path
(:mod:`joinedup.exchange.mediation`).

The metadata routes are declared before the mediation router's catch-all
``/r1/{instance}/{class}/{member}/{subsystem}/{service}``, so ``listMethods``,
``allowedMethods`` and ``getOpenAPI`` (reserved service codes) reach them. They need an access
token, and a client header (``X-Road-Client`` or its GovStack aliases), when sent, must name
the token's subsystem. ``listClients`` is public, as X-Road's global configuration is.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Form, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from joinedup.core.clock import today
from joinedup.core.errors import PROBLEM_BASE, Forbidden, NotFound
from joinedup.core.http import ReadSession, WriteSession
from joinedup.core.settings import get_settings
from joinedup.exchange import mediation
from joinedup.exchange.access import ClientIdentity
from joinedup.exchange.api_admin import router as admin_router
from joinedup.exchange.metadata import allowed_methods, get_openapi, list_clients, list_methods
from joinedup.exchange.oauth import (
    InvalidClient,
    InvalidRequest,
    OAuthError,
    UnsupportedGrantType,
    authenticate_client,
    issue_access_token,
    json_web_key_set,
)
from joinedup.exchange.schemas import SubsystemRef

router = APIRouter()
oauth = APIRouter(tags=["exchange: OAuth 2.0"])
metadata = APIRouter(tags=["exchange: metadata services"])

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_CLIENT_HEADERS = ("x-road-client", "information-mediator-client", "x-govstack-client")


def _oauth_problem(request: Request, error: OAuthError, *, basic: bool) -> JSONResponse:
    """RFC 6749 §5.2's ``error`` and ``error_description`` inside an RFC 9457 document."""
    document: dict[str, Any] = {
        "type": PROBLEM_BASE + error.slug,
        "title": error.title,
        "status": error.status,
        "detail": error.detail,
        "instance": request.url.path,
        **error.extensions,
    }
    if request_id := request.scope.get("joinedup.request_id"):
        document["request_id"] = request_id
    headers = dict(_NO_STORE)
    if error.status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="joinedup"' if basic else "Bearer"
    return JSONResponse(
        document, status_code=error.status, headers=headers, media_type="application/problem+json"
    )


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("the Basic credentials are not base64 of id:secret") from exc
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise InvalidClient("the Basic credentials are not base64 of id:secret")
    # RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


@oauth.post(
    "/oauth/token",
    summary="An access token for a client subsystem (OAuth 2.0 client credentials)",
    responses={400: {"description": "A refused token request (RFC 6749 §5.2 in RFC 9457)"}},
)
def post_token(
    request: Request,
    session: WriteSession,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Form fields ``grant_type=client_credentials`` and the client's ``client_id`` and
    ``client_secret`` — or the id and secret as HTTP Basic credentials. Answers
    ``{access_token, token_type: Bearer, expires_in}``; the token is an EdDSA-signed JWT
    (keys at ``/oauth/jwks``). Five wrong secrets in a row lock the client out for minutes."""
    basic = authorization is not None and authorization.lower().startswith("basic ")
    try:
        credentials = _basic_credentials(authorization)
        if credentials is not None and (client_id or client_secret):
            raise InvalidRequest("give the client credentials once: in Basic or in the form")
        if grant_type is None:
            raise InvalidRequest("grant_type is required (client_credentials)")
        if grant_type != "client_credentials":
            raise UnsupportedGrantType("only the client_credentials grant is supported")
        if credentials is None:
            if not client_id or not client_secret:
                raise InvalidClient("send client_id and client_secret (form or HTTP Basic)")
            credentials = (client_id, client_secret)
        token = issue_access_token(session, client_id=credentials[0], client_secret=credentials[1])
    except OAuthError as exc:
        # Answered, not raised: the failed sign-in counted for throttling must be committed.
        return _oauth_problem(request, exc, basic=basic)
    return JSONResponse(
        {
            "access_token": token.access_token,
            "token_type": token.token_type,
            "expires_in": token.expires_in,
        },
        headers=_NO_STORE,
    )


@oauth.get("/oauth/jwks", summary="The public keys that verify access tokens (JWK Set)")
def get_jwks(session: ReadSession) -> dict[str, Any]:
    return json_web_key_set(session)


@metadata.get("/listClients", summary="Members and subsystems of the federation (listClients)")
def get_list_clients(
    session: ReadSession, instance_id: Annotated[str | None, Query(alias="instanceId")] = None
) -> dict[str, Any]:
    return list_clients(session, instance_id=instance_id)


_PROVIDER = "/r1/{instance}/{member_class}/{member_code}/{subsystem_code}"


def _provider(instance: str, member_class: str, member_code: str, code: str) -> SubsystemRef:
    if instance != get_settings().xroad_instance:
        raise NotFound(f"this exchange federates no instance {instance!r}")
    return SubsystemRef(member_class, member_code, code)


def _caller(session: Session, request: Request) -> ClientIdentity:
    """The authenticated client; a client header, when sent, must name its subsystem."""
    client = authenticate_client(session, authorization=request.headers.get("authorization"))
    for name in _CLIENT_HEADERS:
        value = request.headers.get(name)
        if value is not None and value.strip() != client.xroad_id:
            raise Forbidden(
                f"{name} names {value.strip()!r}, but the access token is {client.xroad_id}'s",
                x_road_error="Client.ClientIdentifierMismatch",
            )
    return client


@metadata.get(_PROVIDER + "/listMethods", summary="The services a subsystem publishes")
def get_list_methods(
    request: Request,
    session: ReadSession,
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str,
    service_id: Annotated[str | None, Query(alias="serviceId")] = None,
) -> dict[str, Any]:
    _caller(session, request)
    provider = _provider(instance, member_class, member_code, subsystem_code)
    return list_methods(session, provider=provider, service_code=service_id)


@metadata.get(
    _PROVIDER + "/allowedMethods", summary="The services of a subsystem the caller may call"
)
def get_allowed_methods(
    request: Request,
    session: ReadSession,
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str,
    service_id: Annotated[str | None, Query(alias="serviceId")] = None,
) -> dict[str, Any]:
    client = _caller(session, request)
    provider = _provider(instance, member_class, member_code, subsystem_code)
    return allowed_methods(
        session, client=client, provider=provider, on=today(), service_code=service_id
    )


@metadata.get(_PROVIDER + "/getOpenAPI", summary="The OpenAPI document of a service")
def get_get_openapi(
    request: Request,
    session: ReadSession,
    instance: str,
    member_class: str,
    member_code: str,
    subsystem_code: str,
    service_code: Annotated[str, Query(alias="serviceCode")],
) -> dict[str, Any]:
    _caller(session, request)
    provider = _provider(instance, member_class, member_code, subsystem_code)
    return get_openapi(session, provider=provider, service_code=service_code)


router.include_router(oauth)
router.include_router(metadata)
router.include_router(admin_router)
router.include_router(mediation.router)
