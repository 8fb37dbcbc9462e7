"""Calls from inside the platform to a member's own REST service, through the exchange.

The platform's components sometimes *send* to an agency rather than read from a registry:
Tell Us Once informs the pension agency, the vehicle registry and the municipality of a death.
That is a mediated call like any ``/r1`` call to a REST provider: the calling subsystem must
hold an access right to the service for the purpose, the call carries the X-Road headers
(``X-Road-Id`` is the caller's message id, which the provider uses as its idempotency key),
and it leaves a message-log record signed by both members, a monitoring row and, for each
person the message is about, a data-usage record whose receiver is the **provider** (the
agency that received the person's data) — all in the transparency log.

Unlike :mod:`joinedup.exchange.local` (registry services, in the caller's transaction), the
provider is called over HTTP, so :func:`send_to_service` is asynchronous and runs **between**
transactions: it authorises in a read, calls the provider, then writes the records in a unit
of work of its own, before it returns (no answer without its record). The caller records what
the answer means in its own transaction afterwards.

**Embedded systems.** A member's system may be served by the platform process itself (the
demo country's agency systems under ``<public_url>/agency-systems/…``). Whoever provides such
a system registers it with :func:`mount_local_system`; :func:`provider_transport` then routes
calls whose URL starts with ``<public_url><prefix>`` to the ASGI application in-process (a
real HTTP exchange, without a socket), and every other URL over the network.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec

import httpx
from sqlalchemy.orm import Session
from starlette.types import ASGIApp

from joinedup.core.clock import today, utcnow
from joinedup.core.db import Database
from joinedup.core.errors import DomainError, NotFound
from joinedup.core.keys import SigningKey, load_log_signing_key
from joinedup.core.logging import get_logger
from joinedup.core.settings import Settings, get_settings
from joinedup.exchange.access import AccessDenied, authorize, resolve_service
from joinedup.exchange.calls import Call, recording
from joinedup.exchange.local import LocalCallRefused
from joinedup.exchange.local_clients import local_client_identity
from joinedup.exchange.protocol import DENIALS, request_hash
from joinedup.exchange.recorder import Recording, write_recordings
from joinedup.exchange.schemas import ServiceRef
from joinedup.exchange.usage import CHANNEL_EXCHANGE, Receiver, usage_records

log = get_logger(__name__)
P = ParamSpec("P")

#: Seconds a provider has to answer a call from inside the platform.
DEFAULT_TIMEOUT = 10.0

LocalSystemFactory = Callable[[Settings], ASGIApp]
_LOCAL_SYSTEMS: dict[str, LocalSystemFactory] = {}


def mount_local_system(prefix: str, factory: LocalSystemFactory) -> None:
    """Serve calls to ``<public_url><prefix>…`` with the ASGI application ``factory(settings)``
    in-process (the application sees the full path with ``root_path`` = ``prefix``, as if it
    were mounted there). Registering the same prefix again replaces the factory."""
    if not prefix.startswith("/") or prefix.endswith("/"):
        raise ValueError("a local system's prefix starts with '/' and does not end with one")
    _LOCAL_SYSTEMS[prefix] = factory


class ProviderTransport(httpx.AsyncBaseTransport):
    """Routes requests to the local systems mounted under the platform's own address
    in-process, and every other request over the network."""

    def __init__(self, settings: Settings, *, network: httpx.AsyncBaseTransport | None = None):
        base = settings.public_url.rstrip("/")
        self._mounts = [
            (base + prefix, httpx.ASGITransport(app=factory(settings), root_path=prefix))
            for prefix, factory in sorted(_LOCAL_SYSTEMS.items(), key=lambda kv: -len(kv[0]))
        ]
        self._network = network or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        for prefix, transport in self._mounts:
            if url == prefix or url.startswith(prefix + "/"):
                return await transport.handle_async_request(request)
        return await self._network.handle_async_request(request)

    async def aclose(self) -> None:
        await self._network.aclose()


def provider_transport(settings: Settings) -> ProviderTransport:
    """The transport for calls to members' REST services (see the module docstring)."""
    return ProviderTransport(settings)


@dataclass(frozen=True)
class ServiceReply:
    """What a member's REST service answered (any status; refusals of the exchange raise)."""

    message_id: str
    service: str  # INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE
    status: int
    body: bytes
    media_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The body as JSON (``ValueError`` when it is not)."""
        return json.loads(self.body)


class ProviderUnreachable(DomainError):
    """The provider did not answer (network error or timeout); the call is recorded."""

    slug = "provider-unreachable"
    title = "The agency's system did not answer"
    status = 502

    def __init__(self, detail: str, *, error_type: str) -> None:
        super().__init__(detail, error_type=error_type)
        self.error_type = error_type


@dataclass
class Sent:
    """A message sent through the exchange whose records are not written yet
    (:func:`send_unrecorded`): the provider's reply, or why there is none (the exchange
    refused the call, or the provider did not answer)."""

    message_id: str
    reply: ServiceReply | None
    error: LocalCallRefused | ProviderUnreachable | None
    #: The records, made in the transaction that writes them (unless made ahead)
    recording_of: Callable[[Session], Recording]
    signer: SigningKey
    #: The records made ahead, in a transaction that only reads
    #: (:func:`make_sent_records_ahead`), for the transaction that writes them
    recorded: Recording | None = None

    def write_records(self, session: Session) -> None:
        """Write the call's records (message log, monitoring, data usage) in ``session``'s
        transaction: every message sent is on record once it commits (several messages'
        together: :func:`write_sent_records`)."""
        write_sent_records(session, [self])

    def result(self) -> ServiceReply:
        """The reply; raises the refusal or the provider's silence."""
        if self.error is not None:
            raise self.error
        assert self.reply is not None
        return self.reply


def _recorded_at_once(
    send: Callable[Concatenate[Database, P], Awaitable[Sent]],
) -> Callable[Concatenate[Database, P], Awaitable[ServiceReply]]:
    """``send``, with the records written in a transaction of their own before it returns."""

    async def send_to_service(
        database: Database, /, *args: P.args, **kwargs: P.kwargs
    ) -> ServiceReply:
        sent = await send(database, *args, **kwargs)
        await asyncio.to_thread(_in_transaction_of_its_own, database, sent)
        return sent.result()

    return send_to_service


def _in_transaction_of_its_own(database: Database, sent: Sent) -> None:
    make_sent_records_ahead(database, [sent])
    with database.unit_of_work() as session:
        sent.write_records(session)


def make_sent_records_ahead(database: Database, sent: Sequence[Sent]) -> None:
    """Make the records of messages sent (:func:`send_unrecorded`) in a transaction that only
    reads — the members' signing keys and the provider's name read, the message-log record
    and the data-usage rows built — so that the transaction writing them does only that: on
    SQLite, one writer at a time, every millisecond of a write transaction is one the other
    processes' writers wait (Tell Us Once's answers: about a quarter of the transaction that
    records them). Where that cannot be done (a member's first signing key is made by a
    write; the database is away), the rest are made in the writing transaction, as before."""
    todo = [one for one in sent if one.recorded is None]
    if not todo:
        return
    try:
        with database.reading_only() as session:
            for one in todo:
                one.recorded = one.recording_of(session)
    except Exception as exc:
        log.info("sent_records_made_when_written", messages=len(todo), error=type(exc).__name__)


async def send_unrecorded(
    database: Database,
    http: httpx.AsyncClient,
    *,
    client: str,
    service: ServiceRef | str,
    purpose: str,
    body: Mapping[str, Any],
    message_id: str | None = None,
    data_subjects: Sequence[str] = (),
    sent_fields: Sequence[str] = (),
    method: str = "POST",
    path: str = "",
    issue: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    log_signer: SigningKey | None = None,
) -> Sent:
    """Send ``body`` (JSON) to the member's REST ``service`` as :func:`send_to_service` does,
    with the records left to the caller to write in a
    transaction of its own choosing (:meth:`Sent.write_records`) — with what it records of
    the answer, say, in one transaction for many messages' answers. A caller that fails to
    write them must not show the answer as delivered: the message is not on record. The
    refusal or the provider's silence is returned in :attr:`Sent.error`, not raised."""
    settings = get_settings()
    instance = settings.xroad_instance
    ref = (
        service if isinstance(service, ServiceRef) else ServiceRef.parse(service, instance=instance)
    )
    started = time.perf_counter_ns()
    logged_at = utcnow()
    message_id = message_id or str(uuid.uuid4())
    payload = json.dumps(dict(body), separators=(",", ":"), default=str).encode()
    call_path = path.lstrip("/")
    headers = {
        "x-road-client": "",
        "x-road-id": message_id,
        "x-road-purpose": purpose,
        "content-type": "application/json",
    }
    if issue:
        headers["x-road-issue"] = issue
    call = Call(
        method=method.upper(),
        service_path=(instance, ref.member_class, ref.member_code, ref.subsystem_code,
                      ref.service_code),
        path=call_path,
        query={},
        headers=headers,
        body=payload,
        message_id=message_id,
        client_header=None,
        purpose=purpose,
        fields=None,
        request_hash=b"",
        url_path=f"/r1/{instance}/{ref}",
        request_id=None,
    )  # fmt: skip
    refused = await asyncio.to_thread(_prepare, database, call, client=client, ref=ref)
    call.authorization_us = (time.perf_counter_ns() - started) // 1000
    unreachable: ProviderUnreachable | None = None
    if refused is not None:
        call.status, call.error_type = refused.call_status, refused.error_type
    else:
        unreachable = await _call_provider(http, call, timeout=timeout)
    total_us = (time.perf_counter_ns() - started) // 1000
    signer = log_signer or load_log_signing_key(settings)

    def records(session: Session) -> Recording:
        return _recording(
            session, call, logged_at=logged_at, total_us=total_us, subjects=data_subjects,
            sent_fields=sent_fields,
        )  # fmt: skip

    error = refused or unreachable
    if error is not None:
        return Sent(message_id, None, error, records, signer)
    assert call.service is not None
    reply = ServiceReply(
        message_id=message_id,
        service=call.service.xroad_id,
        status=call.status,
        body=call.response_body,
        media_type=call.media_type,
    )
    return Sent(message_id, reply, None, records, signer)


send_to_service = _recorded_at_once(send_unrecorded)
send_to_service.__doc__ = """Send ``body`` (JSON) to the member's REST ``service`` as the
subsystem ``client`` (``CLASS/MEMBER/SUBSYSTEM``) for ``purpose``, with ``X-Road-Id`` =
``message_id`` (the arguments of :func:`send_unrecorded`).

Records (in a transaction of its own, committed before this returns): the message-log record
signed by both members, the monitoring row, and for a 2xx answer a data-usage record per
``data_subjects`` entry with the provider as the receiver of ``sent_fields`` (the data about
them the message carried; default: the service's fields). Raises
:class:`~joinedup.exchange.LocalCallRefused` when the exchange refuses (no right, purpose, or
an unknown service) and :class:`ProviderUnreachable` when the provider does not answer — both
recorded too. Any answer of the provider, errors included, is returned. A caller that records
what the answer means in a transaction of its own may write the records there instead
(:func:`send_unrecorded`)."""


def _prepare(
    database: Database, call: Call, *, client: str, ref: ServiceRef
) -> LocalCallRefused | None:
    """Identify the client, resolve the service and authorise the call (a read); returns the
    refusal, if any, rather than raising it (the refusal is recorded first)."""
    instance = call.service_path[0]
    headers = call.headers
    payload = call.body
    purpose = call.purpose or ""
    call_path = call.path
    refused: LocalCallRefused | None = None
    with database.reading() as session:
        identity = local_client_identity(session, client=client)
        call.client = identity
        call.client_header = identity.xroad_id
        headers["x-road-client"] = identity.xroad_id
        raw_path = f"/r1/{instance}/{ref}" + (f"/{call_path}" if call_path else "")
        call.request_hash = request_hash(
            method=call.method, raw_path=raw_path.encode(), raw_query=b"", headers=headers,
            body=payload,
        )  # fmt: skip
        try:
            call.service = resolve_service(
                session,
                instance=instance,
                member_class=ref.member_class,
                member_code=ref.member_code,
                subsystem_code=ref.subsystem_code,
                service_code=ref.service_code,
            )
        except NotFound as exc:
            refused = LocalCallRefused(
                exc.detail, error_type="Server.ServerProxy.UnknownService", status=404
            )
        else:
            if call.service.kind != "rest" or not call.service.base_url:
                refused = LocalCallRefused(
                    f"{call.service.xroad_id} is not a member's REST service",
                    error_type="Server.ServerProxy.UnknownService",
                    status=404,
                )
            else:
                try:
                    call.authorization = authorize(
                        session,
                        client=identity,
                        service=call.service,
                        purpose=purpose,
                        fields=None,
                        on=today(),
                    )
                except AccessDenied as exc:
                    refused = LocalCallRefused(
                        exc.detail,
                        error_type=DENIALS[exc.reason],
                        status=400 if exc.reason == "no-purpose" else 403,
                        reason=exc.reason,
                    )
    return refused


async def _call_provider(
    http: httpx.AsyncClient, call: Call, *, timeout: float
) -> ProviderUnreachable | None:
    assert call.service is not None
    assert call.authorization is not None
    base = (call.service.base_url or "").rstrip("/")
    url = f"{base}/{call.path}" if call.path else base
    headers = {
        "X-Road-Client": call.client_header or "",
        "X-Road-Id": call.message_id,
        "X-Road-Service": call.service_xroad_id,
        "X-Road-Purpose": call.authorization.purpose,
        "Content-Type": "application/json",
    }
    if issue := call.headers.get("x-road-issue"):
        headers["X-Road-Issue"] = issue
    started = time.perf_counter_ns()
    try:
        answer = await http.request(
            call.method, url, headers=headers, content=call.body, timeout=timeout
        )
    except httpx.TimeoutException:
        call.status, call.error_type = 504, "Server.ServerProxy.ServiceTimeout"
        return ProviderUnreachable(
            f"{call.service.xroad_id} did not answer within {timeout:g} s",
            error_type=call.error_type,
        )
    except httpx.HTTPError:
        call.status, call.error_type = 502, "Server.ServerProxy.NetworkError"
        return ProviderUnreachable(
            f"{call.service.xroad_id} could not be reached", error_type=call.error_type
        )
    finally:
        call.provider_us = (time.perf_counter_ns() - started) // 1000
    call.status = answer.status_code
    call.response_body = answer.content
    call.media_type = answer.headers.get("content-type", "application/octet-stream")
    if answer.status_code >= 400:
        call.error_type = f"Provider.http-{answer.status_code}"
    return None


def _recording(
    session: Session,
    call: Call,
    *,
    logged_at: Any,
    total_us: int,
    subjects: Sequence[str],
    sent_fields: Sequence[str],
) -> Recording:
    """The records of a sent message (the members' signing keys read, or made, in
    ``session``)."""
    from joinedup.exchange.service.keys import member_signing_key
    from joinedup.exchange.service.members import member_names

    if call.client is not None:
        call.client_key = member_signing_key(session, member_id=call.client.member_id)
    service, auth = call.service, call.authorization
    if service is not None:
        call.provider_key = member_signing_key(session, member_id=service.provider_member_id)
    call.subjects = ()  # the receiver of a sent message is the provider: see below
    recorded = recording(call, logged_at=logged_at, total_us=total_us)
    if subjects and service is not None and auth is not None and 200 <= call.status < 300:
        _, member_class, member_code, subsystem_code, _ = service.xroad_id.split("/")
        # from the directory snapshot: a query per message was 5 of a death's Tell Us Once
        provider = (member_class, member_code)
        provider_name = member_names(session, [provider]).get(provider)
        rows = usage_records(
            logged_at=logged_at,
            subjects=subjects,
            channel=CHANNEL_EXCHANGE,
            receiver=Receiver(member_class, member_code, provider_name or "", subsystem_code),
            service_xroad_id=service.xroad_id,
            action=f"{auth.purpose} ({service.code})",
            fields=tuple(sent_fields) or service.fields,
            purpose=auth.purpose,
            legal_basis=auth.legal_basis,
            case_reference=call.headers.get("x-road-issue"),
            user_id=None,
            represented_party=None,
            message_id=call.message_id,
            law_enforcement=auth.law_enforcement,
            hidden_until=auth.hidden_until,
        )
        recorded.usages = [row for row, _ in rows]
        recorded.usage_leaves = [leaf for _, leaf in rows]
    return recorded


def write_sent_records(session: Session, sent: Sequence[Sent]) -> None:
    """The records of several sent messages, written together in ``session``'s transaction
    (one transparency-log batch, one tree head, for all of them)."""
    by_signer: dict[str, tuple[SigningKey, list[Recording]]] = {}
    for one in sent:
        signer, recordings = by_signer.setdefault(one.signer.key_id, (one.signer, []))
        made = one.recorded
        recordings.append(made if made is not None else one.recording_of(session))
    for signer, recordings in by_signer.values():
        write_recordings(session, recordings, signer=signer)


__all__ = [
    "ProviderTransport",
    "ProviderUnreachable",
    "Sent",
    "ServiceReply",
    "make_sent_records_ahead",
    "mount_local_system",
    "provider_transport",
    "send_to_service",
    "send_unrecorded",
    "write_sent_records",
]
