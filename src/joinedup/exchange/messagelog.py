"""The message log: one signed record per mediated call, refused calls included.

A record holds the call's metadata (message id, client and service identifiers, end user, case
reference, represented party, purpose and legal basis, method, path template, status, error
type, duration), SHA-512 hashes of the request (the ``X-Road-Request-Hash``) and of both
bodies, the bodies themselves only when the service has ``log_bodies``, and the Ed25519
signatures of the client's member and the provider's member. The recorder appends it to the
transparency log and stores the index on the row.

**Batch signatures** (as X-Road's security servers sign their message log in batches): the
records written together are the leaves of a Merkle tree (RFC 6962 hashing) over their
canonical bytes (:mod:`joinedup.exchange.canonical`); each member's key signs the tree's root
once, ``SIGNED_BATCH_TAG || root``, and each record keeps its members' signatures of the root
and its ``signature_proof``: its index, the tree's size and its audit path. One signature per
key and batch instead of two per call; a record still proves on its own that both members
signed it (:func:`signatures_valid`). A record of one call alone is a tree of one leaf.
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
from joinedup.core.translog.merkle import all_inclusion_paths, leaf_hash, root_from_path
from joinedup.exchange.canonical import message_canonical, message_leaf
from joinedup.exchange.records import MessageLogRecord

_sha512 = hashlib.sha512
#: What a member's key signs for a batch of records: this tag, then the batch tree's root.
SIGNED_BATCH_TAG = b"JU-MSG-BATCH-1"
_HASH = 32
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


@dataclass
class UnsignedMessage:
    """A message-log row before its batch is signed, with its canonical bytes and the keys
    of its members (a key is None when that member is unknown: a refused call)."""

    row: dict[str, Any]
    canonical: bytes
    client_key: SigningKey | None
    provider_key: SigningKey | None


def message_record(
    facts: MessageFacts, *, client_key: SigningKey | None, provider_key: SigningKey | None
) -> UnsignedMessage:
    """The row of a message-log record, to be signed with its batch by the members' keys
    (:func:`sign_batch`). Pure: writes nothing (the recorder does). A refused call whose
    client or service is unknown is signed by the member(s) that are known.
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
    return UnsignedMessage(row, message_canonical(row), client_key, provider_key)


def _proof(index: int, size: int, path: list[bytes]) -> bytes:
    return index.to_bytes(4, "big") + size.to_bytes(4, "big") + b"".join(path)


def _read_proof(proof: bytes) -> tuple[int, int, list[bytes]] | None:
    if len(proof) < 8 or (len(proof) - 8) % _HASH:
        return None
    path = [proof[i : i + _HASH] for i in range(8, len(proof), _HASH)]
    return int.from_bytes(proof[:4], "big"), int.from_bytes(proof[4:8], "big"), path


def sign_batch(messages: list[UnsignedMessage]) -> list[bytes]:
    """Sign ``messages`` as one batch: each distinct member key signs the batch tree's root
    once; sets each row's signatures and ``signature_proof``. Returns each record's
    transparency-log leaf input, in order."""
    if not messages:
        return []
    root, paths = all_inclusion_paths([leaf_hash(m.canonical) for m in messages])
    signed: dict[str, bytes] = {}
    size = len(messages)

    def signature(key: SigningKey | None) -> bytes | None:
        if key is None:
            return None
        found = signed.get(key.key_id)
        if found is None:
            found = signed[key.key_id] = key.sign(SIGNED_BATCH_TAG + root)
        return found

    leaves = []
    for index, (message, path) in enumerate(zip(messages, paths, strict=True)):
        row = message.row
        row["client_signature"] = signature(message.client_key)
        row["provider_signature"] = signature(message.provider_key)
        row["signature_proof"] = _proof(index, size, path)
        leaves.append(message_leaf(row, message.canonical))
    return leaves


def _clip(value: str | None, size: int) -> str | None:
    return value[:size] if value is not None else None


def signatures_valid(
    row: Mapping[str, Any], *, client: VerifyingKey | None, provider: VerifyingKey | None
) -> bool:
    """Whether the stored signatures are the given members' signatures of the record: of the
    root its ``signature_proof`` leads to from its canonical bytes (a record signed alone,
    before batches, has no proof: its canonical bytes were signed)."""
    canonical = message_canonical(row)
    proof = row.get("signature_proof")
    if proof:
        parts = _read_proof(proof)
        root = root_from_path(leaf_hash(canonical), *parts) if parts else None
        if root is None:
            return False
        canonical = SIGNED_BATCH_TAG + root
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
