"""RFC 9457 problem documents for every error, and HTML error pages for browsers.

Every error an API client can get is ``application/problem+json`` with a stable ``type``
(``https://joinedup.example/problems/<slug>``), the request path as ``instance`` and the
request id, so a report can be matched to the log line. A browser asking for a page (not an
API operation) gets the same error as a translated HTML page instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import Scope

from joinedup.core.errors import PROBLEM_BASE, DomainError
from joinedup.core.logging import get_logger
from joinedup.web.context import request_id_of
from joinedup.web.templating import render_error_page

PROBLEM_MEDIA_TYPE = "application/problem+json"
#: Paths that only ever answer machines: an error there is never an HTML page.
MACHINE_PATH_PREFIXES = ("/api/", "/r1/", "/v2/", "/openapi.json", "/healthz", "/readyz")
_RESERVED_MEMBERS = frozenset({"type", "title", "status", "detail", "instance", "request_id"})

log = get_logger(__name__)


class FieldError(BaseModel):
    """One reason the input was refused."""

    model_config = ConfigDict(populate_by_name=True)

    in_: str = Field(alias="in", description="`path`, `query`, `header`, `cookie` or `body`.")
    field: str = Field(description="Dotted name of the field (empty for the whole body).")
    pointer: str | None = Field(None, description="JSON pointer into the body (RFC 6901).")
    detail: str = Field(description="What is wrong, in words a developer can act on.")
    code: str = Field(description="Machine-readable reason (e.g. `missing`, `int_parsing`).")


class Problem(BaseModel):
    """An RFC 9457 problem document. Extension members may follow."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[PROBLEM_BASE + "not-found"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = Field(None, description="The request path.")
    request_id: str | None = Field(None, description="Also in the `X-Request-Id` header.")
    errors: list[FieldError] | None = Field(
        None, description="For `validation-failed`: each field that was refused."
    )


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem_document(
    scope: Scope,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        document["detail"] = detail
    document["instance"] = scope.get("path", "")
    if request_id := request_id_of(scope):
        document["request_id"] = request_id
    for key, value in (extensions or {}).items():
        if key not in _RESERVED_MEMBERS:
            document[key] = jsonable_encoder(value)
    return document


def problem_response(
    scope: Scope,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    document = problem_document(
        scope, status=status, slug=slug, title=title, detail=detail, extensions=extensions
    )
    return ProblemResponse(document, status_code=status, headers=dict(headers or {}))


def wants_html(scope: Scope, accept: str) -> bool:
    """A browser asking for a page: it accepts HTML and the path is not an API operation."""
    if "text/html" not in accept.lower():
        return False
    route = scope.get("route")
    if isinstance(route, APIRoute):
        return not route.include_in_schema  # pages are kept out of the OpenAPI document
    return not str(scope.get("path", "")).startswith(MACHINE_PATH_PREFIXES)


def error_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    extensions: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The problem document, or the HTML error page when a browser asked for a page."""
    if wants_html(request.scope, request.headers.get("accept", "")):
        return render_error_page(request, status=status, headers=headers, kind=slug)
    return problem_response(
        request.scope,
        status=status,
        slug=slug,
        title=title,
        detail=detail,
        extensions=extensions,
        headers=headers,
    )


def _status_slug(status: int) -> tuple[str, str]:
    known = {
        400: "bad-request",
        401: "unauthenticated",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        406: "not-acceptable",
        409: "conflict",
        413: "content-too-large",
        415: "unsupported-media-type",
        429: "too-many-requests",
        503: "service-unavailable",
    }
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return known.get(status, "http-" + str(status)), phrase


def _field_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Each refused field, without echoing its value (it may be personal data)."""
    result = []
    for error in errors:
        location = [str(part) for part in error.get("loc", ())]
        where = location[0] if location else "body"
        path = location[1:]
        item: dict[str, Any] = {
            "in": where,
            "field": ".".join(path),
            "detail": str(error.get("msg", "is not valid")),
            "code": str(error.get("type", "invalid")),
        }
        if where == "body":
            item["pointer"] = "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in path)
        result.append(item)
    return result


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    log.info("request refused", problem=exc.slug, status=exc.status)
    return error_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        extensions=exc.extensions,
    )


async def handle_validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    malformed = [e for e in errors if e.get("type") == "json_invalid"]
    if malformed:
        reason = (malformed[0].get("ctx") or {}).get("error", "it cannot be parsed")
        log.info("request refused", problem="malformed-body", status=400)
        return error_response(
            request,
            status=400,
            slug="malformed-body",
            title="The request body is not valid JSON",
            detail=f"The request body is not valid JSON: {reason}. Send a JSON document "
            "with the header Content-Type: application/json.",
        )
    fields = _field_errors(errors)
    named = ", ".join(
        (f"{f['in']}.{f['field']}" if f["field"] else f["in"]) + f" ({f['detail']})" for f in fields
    )
    log.info(
        "request refused",
        problem="validation-failed",
        status=422,
        fields=[f"{f['in']}.{f['field']}" for f in fields],
    )
    return error_response(
        request,
        status=422,
        slug="validation-failed",
        title="The input is not valid",
        detail=f"{len(fields)} input value(s) refused: {named}.",
        extensions={"errors": fields},
    )


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _status_slug(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    if exc.status_code == 404 and detail is None:
        detail = f"Nothing is published at {request.url.path}."
    elif exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow") or (exc.headers or {}).get("allow")
        detail = f"{request.method} is not allowed here" + (f"; use {allowed}." if allowed else ".")
    elif exc.status_code == 400 and detail == "There was an error parsing the body":
        slug = "malformed-body"
        detail = "The request body could not be parsed: check it matches its Content-Type."
    return error_response(
        request, status=exc.status_code, slug=slug, title=title, detail=detail, headers=exc.headers
    )


def internal_error(request: Request) -> Response:
    """The answer to an unexpected exception: nothing about it but the request id."""
    return error_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal error",
        detail="The request could not be completed because of an error on our side. "
        "Quote the request id when reporting it.",
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, handle_domain_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
