"""Cross-site request forgery: every form carries the session's token.

**CSRF.** Every unsafe request (POST, PUT, PATCH, DELETE) to a router created with
``dependencies=[Depends(csrf_protect)]`` (the portal's and the back office's are) must carry
the session's token as the form field ``csrf_token`` (or the ``X-CSRF-Token`` header); an
``Origin`` header naming another site is refused too. Templates get ``csrf_token`` in their
context (:func:`csrf_token`); put ``{{ csrf_field() }}`` in every form.

A page's form token is :func:`form_token`: the session's token and the code of the person the
page was shown for (:data:`FORM_SUBJECT_SEPARATOR`); ``require_citizen`` refuses a form shown
for someone else than the session now acts for.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from joinedup.core.errors import Forbidden
from joinedup.web.auth import (
    UNSAFE_METHODS,
    ActingFor,
    Principal,
    current_principal,
    session_cookie,
    settings_of,
)

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
#: A page's form token is the session's CSRF token, this, and the code of the person the page
#: was shown for: a form sent after the session has come to act for someone else (a switch in
#: another tab, a mandate that ended) is refused rather than applied to that someone.
FORM_SUBJECT_SEPARATOR = "."


class CsrfRefused(Forbidden):
    slug = "csrf-refused"
    title = "The form could not be accepted"


def form_token(principal: Principal | None, acting_for: ActingFor | None) -> str:
    """The token a page puts in its forms (``csrf_token``): the session's CSRF token and,
    when the page knows whom it was shown for, that person's code."""
    if principal is None:
        return ""
    if acting_for is None:
        return principal.csrf
    return f"{principal.csrf}{FORM_SUBJECT_SEPARATOR}{acting_for.subject_code}"


def csrf_token(request: Request) -> str | None:
    """The CSRF token of the signed-in session, for forms (None when nobody is signed in)."""
    principal = current_principal(request)
    return principal.csrf if principal else None


def _same_origin(request: Request) -> bool:
    """Whether the request did not come from another site's page. Browsers send
    ``Origin: null`` under ``Referrer-Policy: no-referrer`` (ours), so only an origin that
    names another site is refused; the token is the protection, this a second line."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return True
    public = settings_of(request).public_url.rstrip("/")
    own = f"{request.url.scheme}://{request.url.netloc}"
    return origin.rstrip("/") in (public, own)


async def verify_csrf(request: Request) -> None:
    """Refuse (403) an unsafe request without the session's CSRF token, or from another
    site's page. Reads the form (Starlette keeps it for the handler)."""
    if request.method not in UNSAFE_METHODS:
        return
    if not _same_origin(request):
        raise CsrfRefused("The form was sent from another site.")
    settings = settings_of(request)
    expected = request.cookies.get(session_cookie(settings)) and await _expected(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    token, _, shown_for = (sent or "").partition(FORM_SUBJECT_SEPARATOR)
    if not expected or not token or not hmac.compare_digest(token.encode(), expected.encode()):
        raise CsrfRefused("The form has expired or did not come from this site: try again.")
    if shown_for:  # checked against whom the session acts for now (require_citizen)
        request.state.form_subject = shown_for


async def _expected(request: Request) -> str | None:
    return await run_in_threadpool(csrf_token, request)


csrf_protect = verify_csrf
