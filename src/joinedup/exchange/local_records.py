"""What a call through the exchange from inside the platform leaves on record
(:mod:`joinedup.exchange.local`): its message-log record (signed with its batch), one
data-usage record per data subject of a successful read, and its monitoring row — as a
:class:`~joinedup.exchange.recorder.Recording`, written with the caller's batch."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from joinedup.core.clock import utcnow
from joinedup.core.keys import SigningKey
from joinedup.exchange.access import Authorization, ClientIdentity, ServiceDescriptor
from joinedup.exchange.messagelog import MessageFacts, message_record
from joinedup.exchange.protocol import request_hash
from joinedup.exchange.recorder import Recording
from joinedup.exchange.usage import CHANNEL_EXCHANGE, Receiver, usage_records

#: The method a local call is recorded with (what ``/r1`` would have received).
LOCAL_METHOD = "GET"


@dataclass(frozen=True)
class CallFacts:
    """What a local call was: its records are made of it."""

    message_id: str
    service_xroad_id: str
    purpose: str
    query: dict[str, str]
    fields: tuple[str, ...] | None
    issue: str | None
    user_id: str | None
    represented_party: str | None
    method: str = LOCAL_METHOD
    request_body: bytes = b""


def call_recording(
    client: ClientIdentity,
    facts: CallFacts,
    service: ServiceDescriptor | None,
    authorization: Authorization | None,
    started_ns: int,
    *,
    key: Callable[[int], SigningKey],
    status: int,
    error_type: str | None,
    body: bytes,
    subjects: Sequence[str] = (),
    returned: Sequence[str] = (),
) -> Recording:
    """The records of one call of ``client``'s (``key`` gives a member's signing key)."""
    logged_at = utcnow()
    total_us = (time.perf_counter_ns() - started_ns) // 1000
    raw_query = urlencode(sorted(facts.query.items())).encode()
    headers = {
        "x-road-client": client.xroad_id,
        "x-road-id": facts.message_id,
        "x-road-purpose": facts.purpose,
    }
    if facts.request_body:
        headers["content-type"] = "application/json"
    if facts.user_id:
        headers["x-road-userid"] = facts.user_id
    if facts.issue:
        headers["x-road-issue"] = facts.issue
    if facts.represented_party:
        headers["x-road-represented-party"] = facts.represented_party
    message = message_record(
        MessageFacts(
            logged_at=logged_at,
            message_id=facts.message_id,
            client_xroad_id=client.xroad_id,
            service_xroad_id=facts.service_xroad_id,
            client_member_id=client.member_id,
            provider_member_id=service.provider_member_id if service else None,
            user_id=facts.user_id,
            issue=facts.issue,
            represented_party=facts.represented_party,
            purpose=authorization.purpose if authorization else facts.purpose,
            legal_basis=authorization.legal_basis if authorization else None,
            method=facts.method,
            path="",
            status=status,
            error_type=error_type,
            duration_us=total_us,
            request_hash=request_hash(
                method=facts.method,
                raw_path=f"/r1/{facts.service_xroad_id}".encode(),
                raw_query=raw_query,
                headers=headers,
                body=facts.request_body,
            ),
            request_body=facts.request_body,
            response_body=body,
            log_bodies=service.log_bodies if service else False,
        ),
        client_key=key(client.member_id),
        provider_key=key(service.provider_member_id) if service else None,
    )
    recording = Recording(message=message)
    if subjects and service is not None and authorization is not None and status < 300:
        client = client
        rows = usage_records(
            logged_at=logged_at,
            subjects=subjects,
            channel=CHANNEL_EXCHANGE,
            receiver=Receiver(
                client.member_class,
                client.member_code,
                client.member_name,
                client.subsystem_code,
            ),
            service_xroad_id=service.xroad_id,
            action=f"{authorization.purpose} ({service.code})",
            fields=returned,
            purpose=authorization.purpose,
            legal_basis=authorization.legal_basis,
            case_reference=facts.issue,
            user_id=facts.user_id,
            represented_party=facts.represented_party,
            message_id=facts.message_id,
            law_enforcement=authorization.law_enforcement,
            hidden_until=authorization.hidden_until,
        )
        recording.usages = [row for row, _ in rows]
        recording.usage_leaves = [leaf for _, leaf in rows]
    recording.call = {
        "started_at": logged_at,
        "message_id": facts.message_id[:128],
        "client_xroad_id": client.xroad_id[:300],
        "service_xroad_id": facts.service_xroad_id[:400],
        "method": facts.method,
        "status": status,
        "succeeded": status < 400,
        "error_type": error_type,
        "total_us": total_us,
        "authorization_us": 0,
        "provider_us": total_us,
        "request_size": len(facts.request_body),
        "response_size": len(body),
    }
    return recording
