"""ASGI middleware: request context, the last-resort error answer, the access log, headers.

Both are plain ASGI (not ``BaseHTTPMiddleware``) so context variables set here — the request
id bound into structlog, the language — are seen by the handler, including sync handlers run
in the thread pool.

Order, outermost first: :class:`SecurityHeadersMiddleware` (so even the 500 answer carries
the headers), then :class:`RequestContextMiddleware`, then :class:`AdmissionMiddleware` (a
page's wait for its turn is in its access-log duration).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import structlog
from fastapi.routing import APIRoute
from starlette.datastructures import Headers, MutableHeaders, QueryParams
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from joinedup.core import i18n
from joinedup.core.logging import get_logger, mask_personal_data
from joinedup.web.context import REQUEST_ID_HEADER, REQUEST_ID_SCOPE_KEY, accept_request_id
from joinedup.web.problems import error_response, internal_error

LANGUAGE_COOKIE = "lang"
#: The paths of the server-rendered pages, admitted a few at a time (AdmissionMiddleware),
#: but for signing in and out: the sign-in's return waits for the identity provider (an
#: external one in production), not for this process's processor.
ADMITTED_PREFIXES = ("/portal", "/backoffice")
NOT_ADMITTED_PREFIXES = ("/portal/sign-in", "/portal/sign-out")
_ONE_YEAR = 365 * 24 * 3600
#: Paths whose answers may be cached by the browser (files that change only on upgrade).
STATIC_PREFIXES = ("/assets/", "/static/")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'"
)
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)

access_log = get_logger("joinedup.access")
_access_logger = logging.getLogger("joinedup.access")
log = get_logger(__name__)


def route_template(scope: Scope) -> str:
    """The matched operation's path template (``/api/persons/{code}``), not the raw path.

    Static files and unmatched paths have no template: their path is logged masked.
    """
    route = scope.get("route")
    if isinstance(route, APIRoute):
        return route.path
    return mask_personal_data(str(scope.get("path", "")))[:200]


class RequestContextMiddleware:
    """Request id, language, one access-log line, and a problem document for any crash."""

    def __init__(self, app: ASGIApp, *, default_locale: str, secure_cookies: bool) -> None:
        self.app = app
        self.default_locale = default_locale
        self.secure_cookies = secure_cookies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        request_id = accept_request_id(headers.get(REQUEST_ID_HEADER))
        scope[REQUEST_ID_SCOPE_KEY] = request_id

        query_string: bytes = scope.get("query_string", b"")
        chosen = (
            i18n.supported(QueryParams(query_string).get("lang"))
            if b"lang=" in query_string
            else None
        )
        cookie = headers.get("cookie")
        remembered = cookie_parser(cookie).get(LANGUAGE_COOKIE) if cookie else None
        locale = i18n.negotiate_locale(
            query=chosen,
            cookie=remembered,
            accept_language=headers.get("accept-language"),
            default=self.default_locale,
        )
        set_cookie = chosen is not None and chosen != i18n.supported(remembered)

        status: int | None = None

        async def send_with_context(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                response_headers = MutableHeaders(scope=message)
                response_headers[REQUEST_ID_HEADER] = request_id
                if set_cookie:
                    response_headers.append("Set-Cookie", self._language_cookie(locale))
            await send(message)

        started = time.perf_counter()
        token = i18n.activate(locale)
        try:
            with structlog.contextvars.bound_contextvars(request_id=request_id):
                try:
                    await self.app(scope, receive, send_with_context)
                except Exception:
                    if status is not None:
                        # Part of the answer is on its way: nothing left but to log and cut it.
                        log.exception("request failed after its response started")
                        raise
                    log.exception(
                        "request failed", method=scope["method"], path=route_template(scope)
                    )
                    response = internal_error(Request(scope))
                    await response(scope, receive, send_with_context)
                finally:
                    self._log_access(scope, status, started)
        finally:
            i18n.deactivate(token)

    def _language_cookie(self, locale: str) -> str:
        secure = "; Secure" if self.secure_cookies else ""
        return (
            f"{LANGUAGE_COOKIE}={locale}; Path=/; Max-Age={_ONE_YEAR}; SameSite=Lax; HttpOnly"
            + secure
        )

    @staticmethod
    def _log_access(scope: Scope, status: int | None, started: float) -> None:
        if not _access_logger.isEnabledFor(logging.INFO):  # skip building a dropped line
            return
        access_log.info(
            "request",
            method=scope["method"],
            path=route_template(scope),
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )


class SecurityHeadersMiddleware:
    """CSP, no sniffing, no referrer, no powerful features, HSTS in production, no caching."""

    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_static = str(scope.get("path", "")).startswith(STATIC_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._add_headers(MutableHeaders(scope=message), is_static=is_static)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _add_headers(self, headers: MutableHeaders, *, is_static: bool) -> None:
        defaults: dict[str, Any] = {
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Permissions-Policy": PERMISSIONS_POLICY,
            "X-Frame-Options": "DENY",
            "Cross-Origin-Opener-Policy": "same-origin",
            "Cache-Control": "public, max-age=3600" if is_static else "no-store",
        }
        if self.hsts:
            defaults["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
        for name, value in defaults.items():
            if name not in headers:
                headers[name] = value


class AdmissionMiddleware:
    """At most ``limit`` page requests (``prefixes``) of this process at work at once; the
    others wait their turn, first come first served.

    A page is answered by a sync handler on the framework's thread pool (forty threads):
    under load every request of the process got a thread at once, and forty threads took
    the interpreter lock and the database's connections in turns of half a millisecond, so
    each page took as long as all of them together. A few at a time, each finishes in its
    own time and the others wait in line without holding anything.

    Only the pages are admitted: the provider's token and the exchange's calls that a page
    may itself make over HTTP (to this same process) pass freely, so a page waiting for them
    never waits for its own turn, and signing in (which waits for the provider) is not
    admitted either. A turn is for the server's own work: a form's body is received whole
    before the turn is taken (a body over :data:`PAGE_BODY_BYTES` is refused with 413, never
    admitted), and the turn is given back when the answer starts, so a slow client sending
    or reading never holds one. A page that waits ``wait`` seconds without a turn is answered
    503 with ``Retry-After`` (overloaded, the line would otherwise grow without end).
    """

    def __init__(
        self, app: ASGIApp, *, limit: int, prefixes: tuple[str, ...], wait: float = 15.0
    ) -> None:
        self.app = app
        self.limit = limit
        self.prefixes = prefixes
        self.wait = wait  # seconds a page waits for its turn before it is answered 503
        # one line per event loop (a test client runs the application in a loop of its own)
        self._turns: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def _line(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        if self._turns is None or self._turns[0] is not loop:
            self._turns = (loop, asyncio.Semaphore(self.limit))
        return self._turns[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope["path"]) if scope["type"] == "http" else ""
        if not path.startswith(self.prefixes) or path.startswith(NOT_ADMITTED_PREFIXES):
            await self.app(scope, receive, send)
            return
        received = await _received_first(scope, receive)
        if received is None:  # a page's form is small: this is not one
            response = error_response(
                Request(scope),
                status=413,
                slug="content-too-large",
                title="Content too large",
                detail=f"A page takes at most {PAGE_BODY_BYTES // 1024} KiB of form data.",
            )
            await response(scope, receive, send)
            return
        line = self._line()
        try:
            await asyncio.wait_for(line.acquire(), timeout=self.wait)
        except TimeoutError:  # overloaded: say so at once rather than answer far too late
            response = error_response(
                Request(scope),
                status=503,
                slug="busy",
                title="Too busy",
                detail="The service is too busy to answer now: try again in a moment.",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )
            await response(scope, received, send)
            return
        held = True

        def give_back() -> None:
            nonlocal held
            if held:
                held = False
                line.release()

        async def send_and_give_back(message: Message) -> None:
            if message["type"] == "http.response.start":
                give_back()  # the work is done; sending the answer is the client's pace
            await send(message)

        try:
            await self.app(scope, received, send_and_give_back)
        finally:
            give_back()


#: Seconds a page answered 503 (too busy) asks the browser to wait before it tries again.
RETRY_AFTER_S = 5


#: The most form data a page takes: received whole before the page takes its turn (the
#: portal's and the back office's forms are a few short fields; none uploads a file).
PAGE_BODY_BYTES = 1024 * 1024


async def _received_first(scope: Scope, receive: Receive) -> Receive | None:
    """``receive`` with the request's whole body already received (given to the application
    first, then whatever comes after, such as a disconnection); None when the body is larger
    than :data:`PAGE_BODY_BYTES` (by its ``Content-Length`` or as it arrives)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length" and value.isdigit() and int(value) > PAGE_BODY_BYTES:
            return None
    received: list[Message] = []
    size = 0
    while True:
        message = await receive()
        received.append(message)
        size += len(message.get("body", b""))
        if size > PAGE_BODY_BYTES:
            return None
        if message["type"] != "http.request" or not message.get("more_body", False):
            break

    async def replay() -> Message:
        return received.pop(0) if received else await receive()

    return replay
