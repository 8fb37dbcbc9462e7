"""The embedded OpenID Connect provider's pages: authorization, sign-in (password, password
and one-time code, simulated eID card), end-session. Server-rendered, no JavaScript.

Its machine endpoints (discovery, keys, token, userinfo) are in :mod:`joinedup.identity.api`.
The demo's accounts and their credentials are listed on the sign-in page outside production
(they are synthetic and derived from the seed, so a visitor can try them).

Forms carry the authorization's CSRF token, which is also set as a cookie on ``/idp``: a form
posted from elsewhere, or with another browser's authorization, is refused.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from joinedup.core import i18n
from joinedup.core.errors import ValidationFailed
from joinedup.core.settings import Settings
from joinedup.identity import LevelOfAssurance, ThrottlePolicy, TooManyAttempts
from joinedup.identity.api import ISSUER_PATH, embedded_provider
from joinedup.identity.provider import (
    PendingAuthorization,
    ProviderRequest,
    SignInFailed,
    begin_authorization,
    check_csrf,
    end_session,
    error_answer,
    pending_authorization,
    sign_in_with_card,
    sign_in_with_code,
    sign_in_with_password,
)
from joinedup.identity.provider.demo import current_demo_code, demo_account_list
from joinedup.web.deps import ReadSession, WriteSession
from joinedup.web.templating import render

router = APIRouter(prefix=ISSUER_PATH, include_in_schema=False, default_response_class=HTMLResponse)
Provider = Annotated[Settings, Depends(embedded_provider)]
CSRF_COOKIE = "joinedup-idp-csrf"
_ = i18n.gettext


def _request_uri(request: Request, settings: Settings) -> str:
    uri = str(request.url)
    # Authlib refuses plain http except on loopback; outside production the demo runs on
    # whatever address it was given, so the scheme is not what is being checked here.
    return uri if settings.is_production else uri.replace("http://", "https://", 1)


def _answer(status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
    if status in (301, 302, 303):
        location = dict(headers).get("Location", "/")
        return RedirectResponse(location, status_code=303)
    return Response(str(body or ""), status_code=status, headers=dict(headers))


@router.get("/authorize")
def authorize(request: Request, settings: Provider, session: WriteSession) -> Response:
    """The authorization endpoint: a valid request goes on to the sign-in page."""
    provider_request = ProviderRequest(
        method="GET",
        uri=_request_uri(request, settings),
        headers=request.headers,
        query=list(request.query_params.multi_items()),
    )
    try:
        handle = begin_authorization(session, settings, provider_request)
    except OAuth2Error as error:
        if error.redirect_uri:
            return _answer(*error_answer(session, settings, provider_request, error))
        return render(
            request,
            "idp/error.html",
            {"error": error.error, "description": error.description or ""},
            status_code=400,
        )
    return RedirectResponse(f"{ISSUER_PATH}/sign-in?request={handle}", status_code=303)


def _accounts(session: Session, settings: Settings) -> list[dict[str, Any]]:
    """The demo accounts and their credentials (never in production)."""
    if settings.is_production:
        return []
    return demo_account_list(session)


def _page(
    request: Request,
    session: Session,
    settings: Settings,
    pending: PendingAuthorization,
    *,
    error: str | None = None,
    status_code: int = 200,
    values: dict[str, str] | None = None,
) -> HTMLResponse:
    template = "idp/code.html" if pending.awaiting_code else "idp/sign_in.html"
    levels = {
        "password": LevelOfAssurance.LOW,
        "password-otp": LevelOfAssurance.SUBSTANTIAL,
        "card": LevelOfAssurance.HIGH,
    }
    allowed = [m for m, level in levels.items() if level.at_least(pending.minimum_level)]
    response = render(
        request,
        template,
        {
            "handle": pending.handle,
            "idp_csrf": pending.csrf_token,
            "minimum_level": str(pending.minimum_level),
            "allowed": allowed,
            "error": error,
            "values": values or {},
            "accounts": _accounts(session, settings),
            "demo_code": _demo_code(session, settings, pending) if pending.awaiting_code else None,
        },
        status_code=status_code,
    )
    response.set_cookie(
        CSRF_COOKIE,
        pending.csrf_token,
        httponly=True,
        samesite="lax",
        secure=settings.is_production,
        path=ISSUER_PATH,
    )
    return response


def _demo_code(session: Session, settings: Settings, pending: PendingAuthorization) -> str | None:
    if settings.is_production:
        return None
    return current_demo_code(session, handle=pending.handle, at=time.time())


@router.get("/sign-in")
def sign_in_page(
    request: Request,
    settings: Provider,
    session: ReadSession,
    handle: Annotated[str, Query(alias="request", max_length=200)] = "",
) -> HTMLResponse:
    pending = pending_authorization(session, handle=handle)
    return _page(request, session, settings, pending)


def _checked(request: Request, session: Session, handle: str, token: str) -> PendingAuthorization:
    pending = pending_authorization(session, handle=handle)
    check_csrf(pending, token)
    check_csrf(pending, request.cookies.get(CSRF_COOKIE))
    return pending


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("/sign-in")
def sign_in(
    request: Request,
    settings: Provider,
    session: WriteSession,
    handle: Annotated[str, Form(alias="request", max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    means: Annotated[str, Form(max_length=20)] = "",
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    personal_code: Annotated[str, Form(max_length=20)] = "",
    pin: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """One form per means; wrong credentials re-render the page (400), throttled (429)."""
    pending = _checked(request, session, handle, csrf_token)
    policy = ThrottlePolicy.from_settings(settings)
    values = {"username": username, "personal_code": personal_code, "means": means}
    try:
        if means == "card":
            if not personal_code or not pin:
                raise ValidationFailed(_("Enter the personal code on your card and your PIN."))
            answer = sign_in_with_card(
                session,
                settings,
                handle=handle,
                personal_code=personal_code,
                pin=pin,
                address=_address(request),
                policy=policy,
            )
        else:
            if not username or not password:
                raise ValidationFailed(_("Enter your user name and password."))
            result = sign_in_with_password(
                session,
                settings,
                handle=handle,
                means=means,
                username=username,
                password=password,
                address=_address(request),
                policy=policy,
            )
            if result is None:
                return RedirectResponse(f"{ISSUER_PATH}/sign-in?request={handle}", 303)
            answer = result
    except SignInFailed:
        message = (
            _("The personal code or PIN is not right.")
            if means == "card"
            else _("The user name or password is not right.")
        )
        return _page(
            request, session, settings, pending, error=message, status_code=400, values=values
        )
    except TooManyAttempts:
        return _page(
            request,
            session,
            settings,
            pending,
            status_code=429,
            values=values,
            error=_("Too many failed attempts: wait 15 minutes and try again."),
        )
    except ValidationFailed as invalid:
        return _page(
            request,
            session,
            settings,
            pending,
            error=invalid.detail,
            status_code=400,
            values=values,
        )
    return _answer(*answer)


@router.post("/sign-in/code")
def sign_in_code(
    request: Request,
    settings: Provider,
    session: WriteSession,
    handle: Annotated[str, Form(alias="request", max_length=200)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    pending = _checked(request, session, handle, csrf_token)
    try:
        answer = sign_in_with_code(
            session,
            settings,
            handle=handle,
            code=code,
            address=_address(request),
            policy=ThrottlePolicy.from_settings(settings),
        )
    except SignInFailed:
        return _page(
            request,
            session,
            settings,
            pending,
            status_code=400,
            error=_("The code is not right: enter the code your app shows now."),
        )
    except TooManyAttempts:
        return _page(
            request,
            session,
            settings,
            pending,
            status_code=429,
            error=_("Too many failed attempts: wait 15 minutes and try again."),
        )
    return _answer(*answer)


@router.get("/end-session")
def end_session_page(
    request: Request,
    settings: Provider,
    session: WriteSession,
    id_token_hint: Annotated[str | None, Query(max_length=4000)] = None,
    post_logout_redirect_uri: Annotated[str | None, Query(max_length=500)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """RP-initiated logout: back to the client's registered address, or a page."""
    target = end_session(
        session,
        settings,
        id_token_hint=id_token_hint,
        post_logout_redirect_uri=post_logout_redirect_uri,
        state=state,
    )
    if target is not None:
        return RedirectResponse(target, status_code=303)
    return render(request, "idp/signed_out.html")
