"""One mediated call as the mediator sees it: what was received (:func:`parse`), what it
learns on the way (:class:`Call`), what it answers (:func:`answer`, :func:`fail`) and what it
leaves behind (:func:`recording`). Pure: nothing here reads or writes the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from urllib.parse import parse_qsl

from starlette.responses import Response

from joinedup.core.errors import DomainError
from joinedup.core.ids import new_id
from joinedup.core.keys import SigningKey
from joinedup.exchange.access import Authorization, ClientIdentity, ServiceDescriptor
from joinedup.exchange.messagelog import MessageFacts, message_record
from joinedup.exchange.protocol import (
    CLIENT_HEADERS,
    PROBLEM_MEDIA_TYPE,
    MediationError,
    b64,
    mediation_problem,
    problem,
    request_hash,
)
from joinedup.exchange.recorder import Recording
from joinedup.exchange.usage import CHANNEL_EXCHANGE, Receiver, usage_records

if TYPE_CHECKING:
    from joinedup.exchange.write_services import PendingWrite

ServicePath = tuple[str, str, str, str, str]


@dataclass
class Call:
    """One mediated call as received, and what the mediator learns about it."""

    method: str
    service_path: ServicePath
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    message_id: str
    client_header: str | None
    purpose: str | None
    fields: tuple[str, ...] | None
    request_hash: bytes
    url_path: str  # the problem documents' ``instance``
    request_id: str | None
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
    #: A write call checked and waiting for its group (the process's write batcher).
    pending_write: PendingWrite | None = None

    @property
    def service_xroad_id(self) -> str:
        return "/".join(self.service_path)


class Refused(Exception):
    """The call was refused before it could be authenticated (its client header)."""

    def __init__(self, call: Call, error: MediationError) -> None:
        super().__init__(error.detail)
        self.call = call
        self.error = error


def parse(
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
) -> Call:
    """The call as received (raises :class:`Refused` for a missing or conflicting client
    header). The query is read as the web framework reads it: the last value of a repeated
    parameter wins."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
    query = dict(parse_qsl(raw_query.decode("latin-1"), keep_blank_values=True))
    purpose = headers.get("x-road-purpose") or query.pop("purpose", None)
    query.pop("purpose", None)
    raw_fields = query.pop("fields", None)
    fields = tuple(f.strip() for f in raw_fields.split(",") if f.strip()) if raw_fields else None
    claimed = [headers[name] for name in CLIENT_HEADERS if headers.get(name)]
    client_header = claimed[0] if claimed else None
    message_id = headers.get("x-road-id") or str(new_id())
    hashed = dict(headers)
    hashed["x-road-id"] = message_id
    if client_header:
        hashed["x-road-client"] = client_header
    call = Call(
        method=method,
        service_path=service_path,
        path=path,
        query=query,
        headers=headers,
        body=body,
        message_id=message_id,
        client_header=client_header,
        purpose=purpose.strip() if purpose else None,
        fields=fields,
        request_hash=request_hash(
            method=method, raw_path=raw_path, raw_query=raw_query, headers=hashed, body=body
        ),
        url_path=url_path,
        request_id=request_id,
    )
    if len(set(claimed)) > 1:
        raise Refused(call, MediationError(
            "Client.InvalidClientIdentifier",
            "the client identifier headers disagree: send one of X-Road-Client, "
            "Information-Mediator-Client or X-GovStack-Client",
        ))  # fmt: skip
    if (
        client_header is None
        or len(client_header.split("/")) != 4
        or "" in client_header.split("/")
    ):
        raise Refused(call, MediationError(
            "Client.InvalidClientIdentifier",
            "send X-Road-Client: INSTANCE/MEMBER_CLASS/MEMBER_CODE/SUBSYSTEM_CODE "
            "(or Information-Mediator-Client / X-GovStack-Client)",
        ))  # fmt: skip
    return call


def recording(call: Call, *, logged_at: datetime, total_us: int) -> Recording:
    """What ``call`` leaves behind: its signed message-log record, a data-usage record per
    data subject of a successful answer, and its monitoring row. Pure: writes nothing."""
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
    message = message_record(facts, client_key=call.client_key, provider_key=call.provider_key)
    recorded = Recording(message=message)
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
        recorded.usages = [row for row, _ in rows]
        recorded.usage_leaves = [leaf for _, leaf in rows]
    recorded.call = {
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
    return recorded


def fail(call: Call, error: MediationError) -> None:
    """Make ``call``'s answer the problem document of ``error``."""
    body = mediation_problem(error, instance=call.url_path, request_id=call.request_id)
    call.status = body.status
    call.response_body = body.content
    call.media_type = PROBLEM_MEDIA_TYPE
    call.error_type = error.error_type
    call.subjects = ()


class Answerable(Protocol):
    """What :func:`provider_refused` sets of a call (the mediator's ``Call`` and the write
    services' view of it)."""

    status: int
    media_type: str
    error_type: str | None
    response_body: bytes

    @property
    def service_xroad_id(self) -> str: ...


def provider_refused(call: Answerable, refusal: DomainError) -> None:
    """Make ``call``'s answer the provider's own refusal of the input, passed through unchanged
    as its problem document (the call was mediated; the register said no)."""
    call.status = refusal.status
    call.media_type = PROBLEM_MEDIA_TYPE
    call.error_type = f"Provider.{refusal.slug}"
    call.response_body = problem(
        status=refusal.status,
        slug=refusal.slug,
        title=refusal.title,
        detail=refusal.detail,
        instance=f"/r1/{call.service_xroad_id}",
        request_id=None,
        extensions=refusal.extensions,
    ).content


def answer(call: Call) -> Response:
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
