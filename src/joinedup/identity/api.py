"""The embedded OpenID Connect provider's machine endpoints under ``/idp``: discovery, keys,
token and userinfo. (Its pages — authorization, sign-in, end-session — are in the web layer.)

They answer only where the embedded provider runs (``JOINEDUP_IDP_ENABLED``, on by default
outside production); elsewhere they are 404, as if absent. ``identity`` sits below the web
layer, so its sessions are built here on the application's database, function-scoped like
the web layer's (the commit happens before the response is sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from joinedup.core.db import Database
from joinedup.core.errors import PROBLEM_BASE, NotFound, Unauthenticated
from joinedup.core.settings import Settings
from joinedup.identity.provider import (
    ProviderRequest,
    discovery_document,
    provider_key_set,
    token_response,
    userinfo,
)

ISSUER_PATH = "/idp"
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def embedded_provider(request: Request) -> Settings:
    """The settings, when this process runs the embedded provider (else 404)."""
    settings = _settings(request)
    if not settings.embedded_idp:
        raise NotFound(f"Nothing is published at {request.url.path}.")
    return settings


def _write_session(request: Request) -> Iterator[Session]:
    with cast(Database, request.app.state.database).unit_of_work() as session:
        yield session


def _read_session(request: Request) -> Iterator[Session]:
    with cast(Database, request.app.state.database).reading() as session:
        yield session


WriteSession = Annotated[Session, Depends(_write_session, scope="function")]
ReadSession = Annotated[Session, Depends(_read_session, scope="function")]
Provider = Annotated[Settings, Depends(embedded_provider)]

router = APIRouter(prefix=ISSUER_PATH, tags=["identity: embedded OpenID Connect provider"])


@router.get(
    "/.well-known/openid-configuration",
    summary="Discovery: the provider's endpoints and what it supports",
)
def get_configuration(settings: Provider) -> dict[str, Any]:
    return discovery_document(settings)


@router.get("/jwks", summary="The public keys that verify ID tokens (JWK Set)")
def get_jwks(settings: Provider) -> dict[str, Any]:
    return provider_key_set(settings)


async def _form(request: Request) -> list[tuple[str, str]]:
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


def _problem(request: Request, status: int, body: dict[str, Any]) -> dict[str, Any]:
    """RFC 6749 § 5.2's ``error`` and ``error_description`` inside an RFC 9457 document."""
    error = str(body.get("error", "invalid_request"))
    document: dict[str, Any] = {
        "type": PROBLEM_BASE + "oauth-" + error.replace("_", "-"),
        "title": "The token request was refused",
        "status": status,
        "detail": str(body.get("error_description") or error),
        "instance": request.url.path,
        **body,
    }
    if request_id := request.scope.get("joinedup.request_id"):
        document["request_id"] = request_id
    return document


@router.post(
    "/token",
    summary="Exchange an authorization code for tokens (authorization code with PKCE)",
    responses={400: {"description": "A refused token request (RFC 6749 § 5.2 in RFC 9457)"}},
)
def post_token(
    request: Request,
    settings: Provider,
    session: WriteSession,
    form: Annotated[list[tuple[str, str]], Depends(_form)],
) -> JSONResponse:
    """Form fields ``grant_type=authorization_code``, ``code``, ``redirect_uri`` and
    ``code_verifier``; the client authenticates with HTTP Basic or ``client_id`` and
    ``client_secret`` in the form. Answers ``access_token``, ``id_token`` (ES256, with
    ``acr`` and ``amr``), ``token_type``, ``expires_in``. A code works once: a second use
    is refused and revokes the tokens of the first."""
    uri = str(request.url)
    provider_request = ProviderRequest(
        method="POST",
        uri=uri if settings.is_production else uri.replace("http://", "https://", 1),
        headers=request.headers,
        form=form,
    )
    status, body, headers = token_response(session, settings, provider_request)
    answer = {k: v for k, v in headers if k.lower() != "content-type"}
    answer.update(_NO_STORE)
    if status >= 400:
        return JSONResponse(
            _problem(request, status, dict(body)),
            status_code=status,
            headers=answer,
            media_type="application/problem+json",
        )
    return JSONResponse(dict(body), status_code=status, headers=answer)


@router.get("/userinfo", summary="Claims about the signed-in person")
@router.post("/userinfo", summary="Claims about the signed-in person", operation_id="post_userinfo")
def get_userinfo(
    settings: Provider,
    session: ReadSession,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """With ``Authorization: Bearer <access token>`` from the token endpoint."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthenticated("Send the access token as Authorization: Bearer.")
    return JSONResponse(
        userinfo(session, access_token=authorization[7:].strip()), headers=_NO_STORE
    )
