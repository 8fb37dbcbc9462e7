"""The message log: one signed record per mediated call, refused calls included.

A record holds the call's metadata (message id, client and service identifiers, end user, case
reference, represented party, purpose and legal basis, method, path template, status, error
type, duration), SHA-512 hashes of the request (the ``X-Road-Request-Hash``) and of both
bodies, the bodies themselves only when the service has ``log_bodies``, and the Ed25519
signatures of the client's member and the provider's member over the record's canonical bytes
(:mod:`joinedup.exchange.canonical`). The recorder appends it to the transparency log and
stores the index on the row.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.errors import NotFound
from joinedup.core.ids import new_id, new_salt
from joinedup.core.keys import SigningKey, VerifyingKey
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.exchange.canonical import message_canonical, message_leaf
from joinedup.exchange.records import MessageLogRecord

_sha512 = hashlib.sha512
#: A path segment kept verbatim in the template: a word, never an identifier or a value.
_WORD = re.compile(r"^[A-Za-z][A-Za-z_-]{0,63}$")


def path_template(path: str) -> str:
    """The service-relative path with every segment that is not a plain word replaced by
    ``{}``: ``/persons/39001010008/relations`` → ``/persons/{}/relations``. The log keeps
    the template (no personal data in metadata); the request hash fixes the exact path."""
    if not path:
        return ""
    return "/".join(s if not s or _WORD.match(s) else "{}" for s in path.split("/"))[:1000]


@dataclass(frozen=True)
class MessageFacts:
    """What the mediation layer knows about a call when it records it."""

    logged_at: datetime
    message_id: str
    client_xroad_id: str
    service_xroad_id: str
    client_member_id: int | None
    provider_member_id: int | None
    user_id: str | None
    issue: str | None
    represented_party: str | None
    purpose: str | None
    legal_basis: str | None
    method: str
    path: str
    status: int
    error_type: str | None
    duration_us: int
    request_hash: bytes
    request_body: bytes
    response_body: bytes
    log_bodies: bool


def message_record(
    facts: MessageFacts, *, client_key: SigningKey | None, provider_key: SigningKey | None
) -> tuple[dict[str, Any], bytes]:
    """The row of a message-log record, signed by the members' keys, and its log leaf input.

    Pure: writes nothing (the recorder does). A refused call whose client or service is
    unknown is signed by the member(s) that are known.
    """
    row: dict[str, Any] = {
        "record_id": new_id(),
        "salt": new_salt(),
        "logged_at": facts.logged_at,
        "message_id": facts.message_id[:128],
        "client_xroad_id": facts.client_xroad_id[:300],
        "service_xroad_id": facts.service_xroad_id[:400],
        "client_member_id": facts.client_member_id,
        "provider_member_id": facts.provider_member_id,
        "user_id": _clip(facts.user_id, 64),
        "issue": _clip(facts.issue, 300),
        "represented_party": _clip(facts.represented_party, 300),
        "purpose": _clip(facts.purpose, 100),
        "legal_basis": _clip(facts.legal_basis, 300),
        "method": facts.method,
        "path_template": path_template(facts.path),
        "status": facts.status,
        "error_type": facts.error_type,
        "duration_us": facts.duration_us,
        "request_hash": facts.request_hash,
        "request_body_hash": _sha512(facts.request_body).digest(),
        "response_body_hash": _sha512(facts.response_body).digest(),
        "request_body": facts.request_body if facts.log_bodies else None,
        "response_body": facts.response_body if facts.log_bodies else None,
        "client_key_id": client_key.key_id if client_key else None,
        "provider_key_id": provider_key.key_id if provider_key else None,
    }
    canonical = message_canonical(row)
    row["client_signature"] = client_key.sign(canonical) if client_key else None
    row["provider_signature"] = provider_key.sign(canonical) if provider_key else None
    return row, message_leaf(row, canonical)


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


def signatures_valid(
    row: Mapping[str, Any], *, client: VerifyingKey | None, provider: VerifyingKey | None
) -> bool:
    """Whether the stored signatures are the given members' signatures of the record."""
    canonical = message_canonical(row)
    for key, key_id, signature in (
        (client, row["client_key_id"], row["client_signature"]),
        (provider, row["provider_key_id"], row["provider_signature"]),
    ):
        if key is None:
            continue
        if signature is None or key.key_id != key_id or not key.verify(signature, canonical):
            return False
    return True


@dataclass(frozen=True)
class MessageEntry:
    """A message-log record as operators see it (bodies left out)."""

    id: int
    record_id: uuid.UUID
    logged_at: datetime
    message_id: str
    client_xroad_id: str
    service_xroad_id: str
    user_id: str | None
    issue: str | None
    purpose: str | None
    legal_basis: str | None
    method: str
    path_template: str
    status: int
    error_type: str | None
    duration_us: int
    request_hash: bytes
    log_index: int
    client_key_id: str | None
    provider_key_id: str | None


def _entry(row: MessageLogRecord) -> MessageEntry:
    return MessageEntry(
        id=row.id,
        record_id=row.record_id,
        logged_at=row.logged_at,
        message_id=row.message_id,
        client_xroad_id=row.client_xroad_id,
        service_xroad_id=row.service_xroad_id,
        user_id=row.user_id,
        issue=row.issue,
        purpose=row.purpose,
        legal_basis=row.legal_basis,
        method=row.method,
        path_template=row.path_template,
        status=row.status,
        error_type=row.error_type,
        duration_us=row.duration_us,
        request_hash=row.request_hash,
        log_index=row.log_index,
        client_key_id=row.client_key_id,
        provider_key_id=row.provider_key_id,
    )


def find_messages(session: Session, *, message_id: str) -> list[MessageEntry]:
    """The message-log records of one ``X-Road-Id`` (normally one)."""
    rows = session.scalars(
        select(MessageLogRecord)
        .where(MessageLogRecord.message_id == message_id)
        .order_by(MessageLogRecord.id)
    )
    found = [_entry(row) for row in rows]
    if not found:
        raise NotFound(f"no message {message_id} is in the message log")
    return found


def message_row(session: Session, *, message_id: str) -> dict[str, Any]:
    """Every stored column of the first record of ``message_id`` (for checks and tests)."""
    row = session.scalars(
        select(MessageLogRecord)
        .where(MessageLogRecord.message_id == message_id)
        .order_by(MessageLogRecord.id)
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"no message {message_id} is in the message log")
    return {c.key: getattr(row, c.key) for c in MessageLogRecord.__table__.columns}


def list_messages(
    session: Session, *, request: PageRequest, service_xroad_id: str | None = None
) -> Page[MessageEntry]:
    """Message-log records, newest first (keyset pages), optionally of one service."""
    statement = select(MessageLogRecord)
    if service_xroad_id is not None:
        statement = statement.where(MessageLogRecord.service_xroad_id == service_xroad_id)
    rows, cursor = keyset_page(
        session, statement, keys=[MessageLogRecord.id.expression], request=request, descending=True
    )
    return Page[MessageEntry](items=[_entry(row) for row in rows], next_cursor=cursor)
