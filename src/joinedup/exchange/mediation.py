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
protocol details (headers, request hash, error types) are in :mod:`joinedup.exchange.protocol`.

The endpoint is ``async`` and takes only the raw request: the directory lookups are in-memory
(the access module's caches), the provider's query runs in the thread pool, and the recorder
is awaited without holding a thread.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import cast

import anyio
import anyio.to_thread
import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from joinedup import exchange as _exchange
from joinedup.core.clock import today, utcnow
from joinedup.core.db import Database
from joinedup.core.errors import DomainError, NotFound, Unauthenticated
from joinedup.core.keys import SigningKey, load_log_signing_key
from joinedup.core.logging import get_logger
from joinedup.core.settings import Settings
from joinedup.exchange import monitoring, provider_api, usage_api, write_services
from joinedup.exchange.access import AccessDenied, Authorization, ClientIdentity, ServiceDescriptor
from joinedup.exchange.directory import current_directory
from joinedup.exchange.messagelog import MessageFacts, message_record
from joinedup.exchange.protocol import (
    CLIENT_HEADERS,
    DENIALS,
    PROBLEM_MEDIA_TYPE,
    REQUEST_ID_SCOPE_KEY,
    MediationError,
    b64,
    mediation_problem,
    problem,
    request_hash,
)
from joinedup.exchange.recorder import Recorder, Recording
from joinedup.exchange.usage import CHANNEL_EXCHANGE, Receiver, usage_records

log = get_logger(__name__)

#: Seconds a REST provider has to answer.
PROVIDER_TIMEOUT = 30.0
#: joinedup extension: a REST provider names the persons its answer is about in this response
#: header (comma-separated personal codes); the mediator records their usage and strips it.
DATA_SUBJECTS_HEADER = "x-road-data-subjects"
#: Threads that run the registry queries of mediated and direct calls, per process. Few on
#: purpose: each holds a pooled read connection (SQLite's reader pool keeps 5 without
#: reconnecting), and more threads than cores only add GIL hand-offs.
QUERY_THREADS = 4
#: The interpreter's thread switch interval while the mediator runs (default 5 ms). The
#: registry queries and the recorder's transaction run in threads, and each database call
#: gives up the GIL and must take it back from the busy event-loop thread: with 5 ms
#: turns, a transaction of a dozen statements waited tens of milliseconds for the GIL.
SWITCH_INTERVAL = 0.0005
_FORWARDED = ("x-road-userid", "x-road-issue", "x-road-represented-party", "content-type")


@dataclass
class Mediation:
    """The process-wide parts of the mediation path (created in the router's lifespan)."""

    database: Database
    settings: Settings
    recorder: Recorder
    http: httpx.AsyncClient
    provider_timeout: float = PROVIDER_TIMEOUT
    queries: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(QUERY_THREADS)
    )


def mediation_of(request: Request) -> Mediation:
    return cast(Mediation, request.app.state.exchange_mediation)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start the recorder and the HTTP client to REST providers; on shutdown write every
    queued record before the database is closed (this lifespan is nested inside the
    application's, which opens and disposes the database)."""
    settings = cast(Settings, app.state.settings)
    database = cast(Database, app.state.database)
    recorder = Recorder(database, signer=load_log_signing_key(settings))
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL))
    recorder.start()
    http = httpx.AsyncClient(follow_redirects=False)
    app.state.exchange_mediation = Mediation(database, settings, recorder, http)
    try:
        yield
    finally:
        await run_in_threadpool(recorder.stop)
        await http.aclose()
        sys.setswitchinterval(switch_interval)


@dataclass
class Call:
    """One mediated call as received, and what the mediator learns about it."""

    method: str
    service_path: tuple[str, str, str, str, str]
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    message_id: str
    client_header: str | None
    purpose: str | None
    fields: tuple[str, ...] | None
    request_hash: bytes
    client: ClientIdentity | None = None
    service: ServiceDescriptor | None = None
    authorization: Authorization | None = None
    client_key: SigningKey | None = None
    provider_key: SigningKey | None = None
    status: int = 500
    response_body: bytes = b""
    media_type: str = "application/json"
    error_type: str | None = None
    subjects: tuple[str, ...] = ()
    returned_fields: tuple[str, ...] = ()
    authorization_us: int = 0
    provider_us: int = 0
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def service_xroad_id(self) -> str:
        return "/".join(self.service_path)


def _parse(request: Request, body: bytes) -> Call:
    params = request.path_params
    headers = {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.scope["headers"]
    }
    query = dict(request.query_params)
    purpose = headers.get("x-road-purpose") or query.pop("purpose", None)
    query.pop("purpose", None)
    raw_fields = query.pop("fields", None)
    fields = tuple(f.strip() for f in raw_fields.split(",") if f.strip()) if raw_fields else None
    claimed = [headers[name] for name in CLIENT_HEADERS if headers.get(name)]
    client_header = claimed[0] if claimed else None
    message_id = headers.get("x-road-id") or str(uuid.uuid4())
    hashed = dict(headers)
    hashed["x-road-id"] = message_id
    if client_header:
        hashed["x-road-client"] = client_header
    call = Call(
        method=request.method,
        service_path=(
            params["instance"],
            params["member_class"],
            params["member_code"],
            params["subsystem_code"],
            params["service_code"],
        ),
        path=params.get("path", ""),
        query=query,
        headers=headers,
        body=body,
        message_id=message_id,
        client_header=client_header,
        purpose=purpose.strip() if purpose else None,
        fields=fields,
        request_hash=request_hash(
            method=request.method,
            raw_path=request.scope.get("raw_path") or request.url.path.encode(),
            raw_query=request.scope.get("query_string", b""),
            headers=hashed,
            body=body,
        ),
    )
    if len(set(claimed)) > 1:
        raise _Refused(call, MediationError(
            "Client.InvalidClientIdentifier",
            "the client identifier headers disagree: send one of X-Road-Client, "
            "Information-Mediator-Client or X-GovStack-Client",
        ))  # fmt: skip
    if (
        client_header is None
        or len(client_header.split("/")) != 4
        or "" in client_header.split("/")
    ):
        raise _Refused(call, MediationError(
            "Client.InvalidClientIdentifier",
            "send X-Road-Client: INSTANCE/MEMBER_CLASS/MEMBER_CODE/SUBSYSTEM_CODE "
            "(or Information-Mediator-Client / X-GovStack-Client)",
        ))  # fmt: skip
    return call


class _Refused(Exception):
    def __init__(self, call: Call, error: MediationError) -> None:
        super().__init__(error.detail)
        self.call = call
        self.error = error


def _signing_key(session: Session, database: Database, member_id: int) -> SigningKey:
    """The member's key: from the in-memory directory when it exists (no write), else created
    in a transaction of its own (first use)."""
    if member_id in current_directory(session).member_keys:
        return _exchange.member_signing_key(session, member_id=member_id)
    with database.unit_of_work() as writing:
        return _exchange.member_signing_key(writing, member_id=member_id)


def _prepare(mediation: Mediation, call: Call) -> None:
    """Authenticate, resolve, authorise and (registry services) call the provider.

    Sets the outcome on ``call``; a refusal or failure of the mediator raises
    :class:`MediationError`, an error of the provider becomes the answer unchanged."""
    database = mediation.database
    started = time.perf_counter_ns()
    try:
        with database.reading() as session:
            try:
                call.client = _exchange.authenticate_client(
                    session, authorization=call.headers.get("authorization")
                )
            except Unauthenticated as exc:
                raise MediationError("Client.AuthenticationFailed", exc.detail) from exc
            if call.client.xroad_id != call.client_header:
                raise MediationError(
                    "Client.ClientIdentifierMismatch",
                    f"the access token was issued to {call.client.xroad_id}, but the client "
                    f"header names {call.client_header}",
                )
            instance, member_class, member_code, subsystem_code, service_code = call.service_path
            try:
                call.service = _exchange.resolve_service(
                    session,
                    instance=instance,
                    member_class=member_class,
                    member_code=member_code,
                    subsystem_code=subsystem_code,
                    service_code=service_code,
                )
            except NotFound as exc:
                raise MediationError("Server.ServerProxy.UnknownService", exc.detail) from exc
            call.client_key = _signing_key(session, database, call.client.member_id)
            call.provider_key = _signing_key(session, database, call.service.provider_member_id)
            try:
                call.authorization = _exchange.authorize(
                    session,
                    client=call.client,
                    service=call.service,
                    purpose=call.purpose,
                    fields=call.fields,
                    on=today(),
                )
            except AccessDenied as exc:
                raise MediationError(DENIALS[exc.reason], exc.detail, **exc.extensions) from exc
            call.authorization_us = (time.perf_counter_ns() - started) // 1000
            if write_services.is_write_service(call.service):
                write_services.mediate_write(database, call)
            elif call.service.kind == "registry":
                _call_registry(session, call)
    finally:
        if not call.authorization_us:
            call.authorization_us = (time.perf_counter_ns() - started) // 1000


def _call_registry(session: Session, call: Call) -> None:
    assert call.service is not None
    assert call.authorization is not None
    started = time.perf_counter_ns()
    try:
        answer = _exchange.call_registry_service(
            session,
            service=call.service,
            method=call.method,
            path=call.path,
            query=call.query,
            body=call.body or None,
            authorization=call.authorization,
        )
    except AccessDenied as exc:  # a refusal only the provider call can decide (consent)
        raise MediationError(DENIALS[exc.reason], exc.detail, **exc.extensions) from exc
    except DomainError as exc:  # the provider refused the input: passed through unchanged
        call.status = exc.status
        call.media_type = PROBLEM_MEDIA_TYPE
        call.error_type = f"Provider.{exc.slug}"
        call.response_body = problem(
            status=exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            instance=f"/r1/{call.service_xroad_id}",
            request_id=None,
            extensions=exc.extensions,
        ).content
        return
    except Exception as exc:
        log.exception("registry service failed", service=call.service.xroad_id)
        raise MediationError(
            "Server.ServerProxy.ServiceFailed", "the registry service failed to answer"
        ) from exc
    finally:
        call.provider_us = (time.perf_counter_ns() - started) // 1000
    call.status = answer.status
    call.response_body = json.dumps(answer.body, separators=(",", ":"), default=str).encode()
    call.subjects = answer.data_subjects
    call.returned_fields = answer.fields or call.authorization.fields
    if answer.legal_basis:  # e.g. the consent the answer was given under
        call.authorization = replace(call.authorization, legal_basis=answer.legal_basis)


async def _call_rest(mediation: Mediation, call: Call) -> None:
    """Forward the call to a member's REST service (``base_url`` + path)."""
    assert call.service is not None
    assert call.authorization is not None
    base = (call.service.base_url or "").rstrip("/")
    url = f"{base}/{call.path}" if call.path else base
    headers = {
        "X-Road-Client": call.client_header or "",
        "X-Road-Id": call.message_id,
        "X-Road-Service": call.service_xroad_id,
        "X-Road-Purpose": call.authorization.purpose,
        "X-Road-Fields": ",".join(call.authorization.fields),
    }
    for name in _FORWARDED:
        if value := call.headers.get(name):
            headers[name] = value
    started = time.perf_counter_ns()
    try:
        answer = await mediation.http.request(
            call.method,
            url,
            params=call.query,
            headers=headers,
            content=call.body or None,
            timeout=mediation.provider_timeout,
        )
    except httpx.TimeoutException as exc:
        raise MediationError(
            "Server.ServerProxy.ServiceTimeout",
            f"{call.service.xroad_id} did not answer within {mediation.provider_timeout:g} s",
        ) from exc
    except httpx.HTTPError as exc:
        raise MediationError(
            "Server.ServerProxy.NetworkError", f"{call.service.xroad_id} could not be reached"
        ) from exc
    finally:
        call.provider_us = (time.perf_counter_ns() - started) // 1000
    call.status = answer.status_code
    call.response_body = answer.content
    call.media_type = answer.headers.get("content-type", "application/octet-stream")
    if answer.status_code >= 400:
        call.error_type = f"Provider.http-{answer.status_code}"
    elif subjects := answer.headers.get(DATA_SUBJECTS_HEADER):
        call.subjects = tuple(s.strip() for s in subjects.split(",") if s.strip())
        call.returned_fields = call.authorization.fields


def _recording(call: Call, *, logged_at: datetime, total_us: int) -> Recording:
    client, service, auth = call.client, call.service, call.authorization
    facts = MessageFacts(
        logged_at=logged_at,
        message_id=call.message_id,
        client_xroad_id=client.xroad_id if client else (call.client_header or ""),
        service_xroad_id=call.service_xroad_id,
        client_member_id=client.member_id if client else None,
        provider_member_id=service.provider_member_id if service else None,
        user_id=call.headers.get("x-road-userid"),
        issue=call.headers.get("x-road-issue"),
        represented_party=call.headers.get("x-road-represented-party"),
        purpose=auth.purpose if auth else call.purpose,
        legal_basis=auth.legal_basis if auth else None,
        method=call.method,
        path=call.path,
        status=call.status,
        error_type=call.error_type,
        duration_us=total_us,
        request_hash=call.request_hash,
        request_body=call.body,
        response_body=call.response_body,
        log_bodies=service.log_bodies if service else False,
    )
    message, leaf = message_record(
        facts, client_key=call.client_key, provider_key=call.provider_key
    )
    recording = Recording(message=message, message_leaf=leaf)
    if call.subjects and client and service and auth and call.status < 300:
        rows = usage_records(
            logged_at=logged_at,
            subjects=call.subjects,
            channel=CHANNEL_EXCHANGE,
            receiver=Receiver(
                client.member_class, client.member_code, client.member_name, client.subsystem_code
            ),
            service_xroad_id=service.xroad_id,
            action=f"{auth.purpose} ({service.code})",
            fields=call.returned_fields,
            purpose=auth.purpose,
            legal_basis=auth.legal_basis,
            case_reference=facts.issue,
            user_id=facts.user_id,
            represented_party=facts.represented_party,
            message_id=call.message_id,
            law_enforcement=auth.law_enforcement,
            hidden_until=auth.hidden_until,
        )
        recording.usages = [row for row, _ in rows]
        recording.usage_leaves = [leaf for _, leaf in rows]
    recording.call = {
        "started_at": logged_at,
        "message_id": facts.message_id[:128],
        "client_xroad_id": facts.client_xroad_id[:300],
        "service_xroad_id": facts.service_xroad_id[:400],
        "method": call.method,
        "status": call.status,
        "succeeded": call.status < 400,
        "error_type": call.error_type,
        "total_us": total_us,
        "authorization_us": call.authorization_us,
        "provider_us": call.provider_us,
        "request_size": len(call.body),
        "response_size": len(call.response_body),
    }
    return recording


def _fail(call: Call, error: MediationError, request: Request) -> None:
    body = mediation_problem(
        error, instance=request.url.path, request_id=request.scope.get(REQUEST_ID_SCOPE_KEY)
    )
    call.status = body.status
    call.response_body = body.content
    call.media_type = PROBLEM_MEDIA_TYPE
    call.error_type = error.error_type
    call.subjects = ()


def _answer(call: Call) -> Response:
    headers = {
        "X-Road-Id": call.message_id,
        "X-Road-Client": call.client_header or "",
        "X-Road-Service": call.service_xroad_id,
        "X-Road-Request-Hash": b64(call.request_hash),
        **call.extra_headers,
    }
    if call.error_type and not call.error_type.startswith("Provider."):
        headers["X-Road-Error"] = call.error_type
    return Response(call.response_body, call.status, headers, media_type=call.media_type)


async def mediate(request: Request) -> Response:
    """A mediated call (see the module docstring)."""
    started = time.perf_counter_ns()
    logged_at = utcnow()
    mediation = mediation_of(request)
    body = await request.body()
    try:
        call = _parse(request, body)
    except _Refused as refused:
        call = refused.call
        _fail(call, refused.error, request)
    else:
        try:
            await anyio.to_thread.run_sync(_prepare, mediation, call, limiter=mediation.queries)
            if call.service is not None and call.service.kind == "rest":
                await _call_rest(mediation, call)
        except MediationError as error:
            _fail(call, error, request)
    recording = _recording(call, logged_at=logged_at, total_us=_since(started))
    try:
        await mediation.recorder.record(recording)
    except Exception:  # no answer without its record: withhold the provider's answer
        _fail(
            call,
            MediationError(
                "Server.ServerProxy.LoggingFailed",
                "the call could not be recorded in the message log; it was not answered",
            ),
            request,
        )
    return _answer(call)


def _since(started_ns: int) -> int:
    return (time.perf_counter_ns() - started_ns) // 1000


_R1 = "/r1/{instance}/{member_class}/{member_code}/{subsystem_code}/{service_code}"
_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
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
            description=__doc__,
            openapi_extra=_DOC,
            include_in_schema=_path == _R1,
            response_class=Response,
        )


# The records' read APIs and the providers' own access travel with the mediation router
# (one include in the exchange's api).
router.include_router(usage_api.tracker)
router.include_router(usage_api.portal)
router.include_router(monitoring.router)
router.include_router(provider_api.router)
