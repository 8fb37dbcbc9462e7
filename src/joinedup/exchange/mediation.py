"""Mediated calls: ``/r1/{instance}/{class}/{member}/{subsystem}/{service}[/{path}]``.

For every call the mediator, in order: reads the client identifier header (400 when it is
missing or malformed), authenticates the OAuth access token (401) and checks that it was
issued to the subsystem the header names (403), resolves the service (404), checks the access
right for the purpose and fields (400 without a purpose, 403 outside the right), calls the
provider (a registry's query in-process, or a member's REST API over HTTP), and answers with
the provider's answer and the X-Road response headers. Every call, refused ones included,
leaves a signed message-log record, a monitoring record and, for each person whose data the
answer holds, a data-usage record; they are committed (by the process's
:class:`~joinedup.exchange.recorder.Recorder`, in groups) **before** the answer is sent. The
steps are in :mod:`joinedup.exchange.mediator`, the protocol details (headers, request hash,
error types) in :mod:`joinedup.exchange.protocol`.

**Two doors, one path.** :class:`MediationPath` is a plain ASGI middleware that the web
application installs inside its own middlewares (request id, security headers, the last-resort
problem document), in front of the router: a call to ``/r1/…`` goes straight to
:func:`~joinedup.exchange.mediator.handle`, without the router's matching, a framework request
or dependency resolution, which cost as much as the mediation itself. The routes below are what
the OpenAPI document describes, and they answer through the same ``handle`` where the
middleware is not installed. The metadata services (``listMethods``, ``allowedMethods``,
``getOpenAPI``, all ``GET``) and every method but GET, POST, PUT, PATCH and DELETE are left to
the router, as the routes' order and methods decide.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import anyio
import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from joinedup.core.db import Database
from joinedup.core.keys import load_log_signing_key
from joinedup.core.settings import Settings
from joinedup.exchange import monitoring, provider_api, usage_api
from joinedup.exchange.calls import ServicePath
from joinedup.exchange.mediator import DATA_SUBJECTS_HEADER, handle
from joinedup.exchange.protocol import REQUEST_ID_SCOPE_KEY
from joinedup.exchange.recorder import Recorder
from joinedup.exchange.write_batcher import WriteBatcher

__all__ = ["DATA_SUBJECTS_HEADER", "Mediation", "MediationPath", "router"]

#: Seconds a REST provider has to answer.
PROVIDER_TIMEOUT = 30.0
#: Threads that run the registry queries of mediated and direct calls, per process. Few on
#: purpose: each holds a pooled read connection (SQLite's reader pool keeps 5 without
#: reconnecting), and more threads than cores only add GIL hand-offs.
QUERY_THREADS = 4
#: The interpreter's thread switch interval while the mediator runs (default 5 ms). The
#: registry queries and the recorder's transaction run in threads, and each database call
#: gives up the GIL and must take it back from the busy event-loop thread: with 5 ms
#: turns, a transaction of a dozen statements waited tens of milliseconds for the GIL.
SWITCH_INTERVAL = 0.0005
#: Service codes of the metadata services: ``GET`` on them is not a mediated call.
METADATA_SERVICES = frozenset({"listMethods", "allowedMethods", "getOpenAPI"})
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@dataclass
class Mediation:
    """The process-wide parts of the mediation path (created in the router's lifespan)."""

    database: Database
    settings: Settings
    recorder: Recorder
    http: httpx.AsyncClient
    #: The threads that run mediated calls up to their record (see ``mediator``).
    workers: ThreadPoolExecutor
    #: Commits the civil-registration write calls in groups (``None``: each alone).
    writes: WriteBatcher | None = None
    provider_timeout: float = PROVIDER_TIMEOUT
    #: Limits the provider's own (direct) calls, which run on the framework's thread pool.
    queries: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(QUERY_THREADS)
    )


def mediation_of(request: Request) -> Mediation:
    return cast(Mediation, request.app.state.exchange_mediation)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the recorder, the mediation threads and the HTTP client to REST providers; on
    shutdown finish the calls in flight and write every queued record before the database is
    closed (this lifespan is nested inside the application's, which opens and disposes the
    database)."""
    settings = cast(Settings, app.state.settings)
    database = cast(Database, app.state.database)
    signer = load_log_signing_key(settings)
    recorder = Recorder(database, signer=signer)
    writes = WriteBatcher(database, signer=signer, recorder=recorder)
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL))
    recorder.start()
    writes.start()
    workers = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="exchange-mediation")
    http = httpx.AsyncClient(follow_redirects=False)
    app.state.exchange_mediation = Mediation(
        database, settings, recorder, http, workers, writes=writes
    )
    try:
        yield
    finally:
        await run_in_threadpool(workers.shutdown)  # their calls reach the batcher first
        await run_in_threadpool(writes.stop)  # its failures reach the recorder first
        await run_in_threadpool(recorder.stop)
        await http.aclose()
        sys.setswitchinterval(switch_interval)


def _route_path(scope: Scope) -> str:
    path = cast(str, scope["path"])
    root_path = cast(str, scope.get("root_path", ""))
    return path[len(root_path) :] if root_path and path.startswith(root_path) else path


def _match(method: str, route_path: str) -> tuple[ServicePath, str | None] | None:
    """The service path and what follows it (``None``: nothing, not even ``/``) when the
    routes would mediate this call: five non-empty segments after ``/r1/``, not ``GET`` of a
    metadata service."""
    if not route_path.startswith("/r1/") or method not in _METHODS:
        return None
    parts = route_path[4:].split("/", 5)
    if len(parts) < 5 or not all(parts[:5]):
        return None
    if len(parts) == 5 and method == "GET" and parts[4] in METADATA_SERVICES:
        return None
    service_path = (parts[0], parts[1], parts[2], parts[3], parts[4])
    return service_path, parts[5] if len(parts) == 6 else None


async def _body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message: Message = await receive()
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":  # as the framework's request.body() does
            raise ClientDisconnect


class MediationPath:
    """The ASGI path to :func:`~joinedup.exchange.mediator.handle` for ``/r1/…`` calls (see
    the module docstring); everything else goes on to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # every other request pays one substring test here, nothing more
        if scope["type"] != "http" or "/r1/" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        route_path = _route_path(scope)
        found = _match(scope["method"], route_path)
        state = getattr(scope.get("app"), "state", None)
        mediation = getattr(state, "exchange_mediation", None) if found else None
        if found is None or mediation is None:
            await self.app(scope, receive, send)
            return
        service_path, path = found
        # the route's template, for the access log (as if the router had matched it)
        scope["route"] = _ROUTE if path is None else _ROUTE_WITH_PATH
        response = await handle(
            mediation,
            method=scope["method"],
            service_path=service_path,
            path=path or "",
            raw_path=scope.get("raw_path") or scope["path"].encode(),
            raw_query=scope.get("query_string", b""),
            raw_headers=scope["headers"],
            body=await _body(receive),
            url_path=cast(str, scope.get("root_path", "")) + route_path,
            request_id=scope.get(REQUEST_ID_SCOPE_KEY),
        )
        await response(scope, receive, send)


async def mediate(request: Request) -> Response:
    """A mediated call (see the module docstring)."""
    params: dict[str, Any] = request.path_params
    return await handle(
        mediation_of(request),
        method=request.method,
        service_path=(
            params["instance"],
            params["member_class"],
            params["member_code"],
            params["subsystem_code"],
            params["service_code"],
        ),
        path=params.get("path", ""),
        raw_path=request.scope.get("raw_path") or request.url.path.encode(),
        raw_query=request.scope.get("query_string", b""),
        raw_headers=request.scope["headers"],
        body=await request.body(),
        url_path=request.url.path,
        request_id=request.scope.get(REQUEST_ID_SCOPE_KEY),
    )


_DESCRIPTION = """\
For every call the mediator, in order: reads the client identifier header (400 when it is
missing or malformed), authenticates the OAuth access token (401) and checks that it was
issued to the subsystem the header names (403), resolves the service (404), checks the access
right for the purpose and fields (400 without a purpose, 403 outside the right), calls the
provider (a registry's query in-process, or a member's REST API over HTTP), and answers with
the provider's answer and the X-Road response headers. Every call, refused ones included,
leaves a signed message-log record, a monitoring record and, for each person whose data the
answer holds, a data-usage record, committed before the answer is sent.
"""
_R1 = "/r1/{instance}/{member_class}/{member_code}/{subsystem_code}/{service_code}"
_DOC = {
    "parameters": [
        {"name": "X-Road-Client", "in": "header", "required": True, "schema": {"type": "string"},
         "description": "INSTANCE/CLASS/MEMBER/SUBSYSTEM of the calling subsystem (aliases: "
         "Information-Mediator-Client, X-GovStack-Client)."},
        {"name": "X-Road-Id", "in": "header", "schema": {"type": "string"},
         "description": "Message id (a UUID is generated when absent)."},
        {"name": "X-Road-UserId", "in": "header", "schema": {"type": "string"},
         "description": "The end user on whose behalf the call is made."},
        {"name": "X-Road-Issue", "in": "header", "schema": {"type": "string"},
         "description": "Case reference."},
        {"name": "X-Road-Represented-Party", "in": "header", "schema": {"type": "string"}},
        {"name": "X-Road-Purpose", "in": "header", "schema": {"type": "string"},
         "description": "joinedup extension: the purpose of the call (or query `purpose`)."},
        {"name": "purpose", "in": "query", "schema": {"type": "string"}},
        {"name": "fields", "in": "query", "schema": {"type": "string"},
         "description": "Comma-separated fields to receive (default: all the right allows)."},
    ],
}  # fmt: skip

router = APIRouter(tags=["data exchange"], lifespan=lifespan)
for _path in (_R1, _R1 + "/{path:path}"):
    for _method in _METHODS:
        router.add_api_route(
            _path,
            mediate,
            methods=[_method],
            name=f"mediate_{_method.lower()}" + ("_path" if "{path" in _path else ""),
            operation_id=f"mediate_{_method.lower()}" + ("_path" if "{path" in _path else ""),
            summary="A mediated call (X-Road message protocol for REST)",
            description=_DESCRIPTION,
            openapi_extra=_DOC,
            include_in_schema=_path == _R1,
            response_class=Response,
        )
#: A mediation route without and one with a path after the service code (their templates).
_ROUTE, _ROUTE_WITH_PATH = (
    next(r for r in router.routes if isinstance(r, APIRoute) and r.path == template)
    for template in (_R1, _R1 + "/{path:path}")
)


# The records' read APIs and the providers' own access travel with the mediation router
# (one include in the exchange's api).
router.include_router(usage_api.tracker)
router.include_router(usage_api.portal)
router.include_router(monitoring.router)
router.include_router(provider_api.router)
