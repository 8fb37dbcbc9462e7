"""Signing in and out of the portal: joinedup as a relying party of the OpenID Connect
provider (the national eID; the embedded provider by default).

The provider is called over HTTP *between* transactions, never inside one: on SQLite the
embedded provider in the same process needs the write lock to issue its code and tokens.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from typing import Annotated, cast

import httpx
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from joinedup import identity
from joinedup.core import i18n
from joinedup.core.db import Database
from joinedup.core.settings import Settings
from joinedup.identity import LevelOfAssurance, RelyingParty
from joinedup.identity.provider import CALLBACK_PATH, SIGNED_OUT_PATH, builtin_client_secret
from joinedup.web.auth import (
    binding_cookie,
    cookie_attributes,
    current_principal,
    local_path,
    session_cookie,
)
from joinedup.web.csrf import FORM_SUBJECT_SEPARATOR, CsrfRefused
from joinedup.web.endpoint_thread import PageRoute
from joinedup.web.templating import render

router = APIRouter(
    route_class=PageRoute,
    prefix="/portal",
    include_in_schema=False,
    default_response_class=HTMLResponse,
)
_SIGN_IN_COOKIE_SECONDS = 15 * 60


def _settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def _database(request: Request) -> Database:
    return cast(Database, request.app.state.database)


def relying_party(request: Request) -> RelyingParty:
    """joinedup's client of the configured provider."""
    settings = _settings(request)
    base = settings.public_url.rstrip("/")
    issuer = settings.resolved_oidc_issuer
    if settings.oidc_client_secret is not None:
        secret = settings.oidc_client_secret.get_secret_value()
    else:
        secret = builtin_client_secret(settings)  # the embedded provider's built-in client
    return RelyingParty(
        issuer=issuer,
        client_id=settings.oidc_client_id,
        client_secret=secret,
        redirect_uri=base + CALLBACK_PATH,
        post_logout_redirect_uri=base + SIGNED_OUT_PATH,
        http=cast(httpx.Client, request.app.state.oidc_http),
    )


@router.get("/sign-in")
def sign_in(
    request: Request,
    level: Annotated[str, Query(max_length=20)] = "low",
    return_to: Annotated[str, Query(max_length=500)] = "/portal",
) -> Response:
    """Send the browser to the provider, asking for ``level`` (low, substantial, high)."""
    minimum = LevelOfAssurance.from_acr(level) or LevelOfAssurance.LOW
    settings = _settings(request)
    cookie = binding_cookie(settings)
    with _database(request).unit_of_work() as session:
        start = identity.begin_sign_in(
            session,
            minimum_level=minimum,
            return_to=local_path(return_to),
            binding=request.cookies.get(cookie),
        )
    url = relying_party(request).authorization_url(
        start, minimum_level=minimum, locale=i18n.current_locale()
    )
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        cookie, start.binding, max_age=_SIGN_IN_COOKIE_SECONDS, **cookie_attributes(settings)
    )
    return response


@router.get("/sign-in/callback")
def callback(
    request: Request,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=500)] = "",
    error: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """The provider sends the browser back here; the session starts only when the state is
    this browser's, the code is good and the ID token passes every check."""
    settings = _settings(request)
    database = _database(request)
    with database.unit_of_work() as session:
        pending = identity.complete_sign_in_request(
            session, state=state, binding=request.cookies.get(binding_cookie(settings))
        )
    if error is not None:
        return render(
            request,
            "portal/sign_in_failed.html",
            {"return_to": pending.return_to, "level": str(pending.minimum_level)},
            status_code=400,
        )
    verified = relying_party(request).exchange(code=code, pending=pending)
    previous = request.cookies.get(session_cookie(settings))
    with database.unit_of_work() as session:
        if previous:  # signing in again (step-up): the old session ends, a new one starts
            old = identity.find_web_session(
                session, token=previous, idle=timedelta(minutes=settings.session_idle_minutes)
            )
            if old is not None:
                identity.end_web_session(session, session_id=old.id, reason="signed in again")
        token, _ = identity.start_web_session(
            session, identity=verified, lifetime=timedelta(hours=settings.session_max_hours)
        )
    response = RedirectResponse(pending.return_to, status_code=303)
    response.set_cookie(
        session_cookie(settings),
        token,
        max_age=settings.session_max_hours * 3600,
        **cookie_attributes(settings),
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the session here, then at the provider (RP-initiated logout) when it can."""
    settings = _settings(request)
    principal = current_principal(request)
    target: str | None = SIGNED_OUT_PATH
    if principal is not None:
        token = csrf_token.partition(FORM_SUBJECT_SEPARATOR)[0]  # whoever the page was for
        if not hmac.compare_digest(token.encode(), principal.csrf.encode()):
            raise CsrfRefused("The form has expired or did not come from this site: try again.")
        token = request.cookies.get(session_cookie(settings), "")
        with _database(request).unit_of_work() as session:
            record = identity.find_web_session(
                session, token=token, idle=timedelta(minutes=settings.session_idle_minutes)
            )
            identity.end_web_session(session, session_id=principal.session_id, reason="sign-out")
        if record is not None:
            target = relying_party(request).end_session_url(
                id_token=record.id_token, state="signed-out"
            )
    response = RedirectResponse(target or SIGNED_OUT_PATH, status_code=303)
    response.delete_cookie(session_cookie(settings), **cookie_attributes(settings))
    return response


@router.get("/signed-out")
def signed_out(request: Request) -> HTMLResponse:
    return render(request, "portal/signed_out.html")
