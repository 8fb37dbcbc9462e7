"""The steps of one mediated call, and the order they run in.

:func:`handle` takes a call as received (the ASGI path in :mod:`joinedup.exchange.mediation`
hands it over without building a framework request) and answers it:

1. on the event loop: parse the X-Road headers, the purpose and the fields, and hash the
   request (400 for a missing or malformed client header, recorded like any refusal);
2. on one of the mediation threads, in one hop: authenticate, resolve, authorise, call a
   registry service, and build the signed message-log record, the data-usage records and the
   monitoring row (:class:`~joinedup.exchange.recorder.Recording`), which the thread hands
   straight to the :class:`~joinedup.exchange.recorder.Recorder`;
3. the recorder commits it in a group and only then wakes the event loop (once per group, not
   once per call), which sends the answer. No answer leaves without its committed record: if
   the record cannot be written the answer is withheld (``Server.ServerProxy.LoggingFailed``).

A member's REST service is called over HTTP from the event loop between steps 2 and 3 (the
thread hands the call back instead of recording it).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy.orm import Session
from starlette.responses import Response

from joinedup import exchange as _exchange
from joinedup.core.clock import today, utcnow
from joinedup.core.errors import DomainError, NotFound, Unauthenticated
from joinedup.core.keys import SigningKey
from joinedup.core.logging import get_logger
from joinedup.exchange import write_services
from joinedup.exchange.access import AccessDenied
from joinedup.exchange.calls import (
    Call,
    Refused,
    ServicePath,
    answer,
    fail,
    parse,
    provider_refused,
    recording,
)
from joinedup.exchange.directory import current_directory
from joinedup.exchange.protocol import (
    DENIALS,
    MediationError,
)
from joinedup.exchange.write_batcher import WriteJob, settle_call

if TYPE_CHECKING:
    from joinedup.core.db import Database
    from joinedup.exchange.mediation import Mediation

log = get_logger(__name__)

#: joinedup extension: a REST provider names the persons its answer is about in this response
#: header (comma-separated personal codes); the mediator records their usage and strips it.
DATA_SUBJECTS_HEADER = "x-road-data-subjects"
_FORWARDED = ("x-road-userid", "x-road-issue", "x-road-represented-party", "content-type")


def _signing_key(session: Session, database: Database, member_id: int) -> SigningKey:
    """The member's key: from the in-memory directory when it exists (no write), else created
    in a transaction of its own (first use)."""
    if member_id in current_directory(session).member_keys:
        return _exchange.member_signing_key(session, member_id=member_id)
    with database.unit_of_work() as writing:
        return _exchange.member_signing_key(writing, member_id=member_id)


def prepare(mediation: Mediation, call: Call) -> None:
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
                if mediation.writes is not None and mediation.writes.running:
                    _check_write(call)  # written with its group (``write_batcher``)
                else:
                    write_services.mediate_write(database, call)
            elif call.service.kind == "registry":
                _call_registry(session, call)
    finally:
        if not call.authorization_us:
            call.authorization_us = (time.perf_counter_ns() - started) // 1000


def _check_write(call: Call) -> None:
    """What a write call can be refused for before its group; else ``call.pending_write``."""
    assert call.service is not None
    assert call.client is not None
    assert call.authorization is not None
    try:
        declared, parsed, body_hash = write_services.check_write(
            service=call.service, method=call.method, path=call.path, body=call.body
        )
    except DomainError as refusal:
        settle_call(call, refusal, 0)
        return
    call.pending_write = write_services.PendingWrite(
        service=call.service,
        client=call.client,
        authorization=call.authorization,
        declared=declared,
        parsed=parsed,
        body_hash=body_hash,
        message_id=call.message_id,
    )


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
        provider_refused(call, exc)
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


def _since(started_ns: int) -> int:
    return (time.perf_counter_ns() - started_ns) // 1000


#: What a mediation thread hands back to the event loop instead of a committed record.
_CALL_PROVIDER = "call the REST provider"


@dataclass(frozen=True)
class _Crashed:
    """A mediation thread failed unexpectedly (a bug): re-raised on the event loop."""

    error: BaseException


def _settle(waiter: asyncio.Future[Any], outcome: object) -> None:
    if not waiter.done():  # the waiting request was cancelled (its client went away)
        waiter.set_result(outcome)


def _work(
    mediation: Mediation,
    call: Call,
    started: int,
    logged_at: datetime,
    waiter: asyncio.Future[Any],
) -> None:
    """Step 2, on a mediation thread: everything up to the record, which goes straight to the
    recorder; the recorder settles ``waiter`` when it has committed (or failed to)."""
    loop = waiter.get_loop()
    try:
        try:
            prepare(mediation, call)
        except MediationError as error:
            fail(call, error)
        else:
            if call.service is not None and call.service.kind == "rest":
                loop.call_soon_threadsafe(_settle, waiter, _CALL_PROVIDER)
                return
            if call.pending_write is not None and mediation.writes is not None:
                # registered and recorded with its group; the batcher settles ``waiter``
                mediation.writes.enqueue(
                    WriteJob(call, call.pending_write, started, logged_at, waiter)
                )
                return
        recorded = recording(call, logged_at=logged_at, total_us=_since(started))
    except BaseException as exc:  # not swallowed: re-raised on the event loop
        loop.call_soon_threadsafe(_settle, waiter, _Crashed(exc))
        return
    mediation.recorder.enqueue(recorded, waiter)


async def _record(mediation: Mediation, call: Call, *, logged_at: datetime, started: int) -> None:
    recorded = recording(call, logged_at=logged_at, total_us=_since(started))
    try:
        await mediation.recorder.record(recorded)
    except Exception:
        _withhold(call)


def _withhold(call: Call) -> None:
    """No answer without its record: replace the answer by the logging failure."""
    fail(
        call,
        MediationError(
            "Server.ServerProxy.LoggingFailed",
            "the call could not be recorded in the message log; it was not answered",
        ),
    )


async def handle(
    mediation: Mediation,
    *,
    method: str,
    service_path: ServicePath,
    path: str,
    raw_path: bytes,
    raw_query: bytes,
    raw_headers: list[tuple[bytes, bytes]],
    body: bytes,
    url_path: str,
    request_id: str | None,
) -> Response:
    """Mediate one call (see the module docstring) and return its answer."""
    started = time.perf_counter_ns()
    logged_at = utcnow()
    try:
        call = parse(
            method=method,
            service_path=service_path,
            path=path,
            raw_path=raw_path,
            raw_query=raw_query,
            raw_headers=raw_headers,
            body=body,
            url_path=url_path,
            request_id=request_id,
        )
    except Refused as refused:
        call = refused.call
        fail(call, refused.error)
        await _record(mediation, call, logged_at=logged_at, started=started)
        return answer(call)
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[Any] = loop.create_future()
    # the thread sees this request's context (its request id in log lines, its language)
    context = contextvars.copy_context()
    mediation.workers.submit(context.run, _work, mediation, call, started, logged_at, waiter)
    try:
        outcome = await waiter
    except Exception:  # the recorder could not commit the call's record
        _withhold(call)
        return answer(call)
    if isinstance(outcome, _Crashed):
        raise outcome.error
    if outcome is _CALL_PROVIDER:
        try:
            await _call_rest(mediation, call)
        except MediationError as error:
            fail(call, error)
        await _record(mediation, call, logged_at=logged_at, started=started)
    return answer(call)
