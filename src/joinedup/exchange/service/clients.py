"""API clients (OAuth 2.0 client credentials, RFC 6749 §4.4) and the exchange's administrators.

A client is bound to one subsystem: whoever holds its id and secret calls as that subsystem.
The secret is 256 random bits shown once; only ``scrypt`` of it, with a random salt, is kept.
(With secrets this strong a fast hash would resist guessing too; scrypt keeps a stolen table
useless even for a secret someone chose by hand, and costs ~40 ms only when a token is issued.)

Sign-in throttling: :data:`MAX_FAILED_SIGN_INS` wrong secrets in a row lock a client out for
:data:`LOCKOUT`; the counter is stored, so every process of a deployment shares it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound, ValidationFailed
from joinedup.core.events import emit
from joinedup.core.pagination import Page, PageRequest, keyset_page
from joinedup.core.settings import get_settings
from joinedup.exchange.directory import bump_generation
from joinedup.exchange.events import AdministratorAppointed, ApiClientRegistered, ApiClientRevoked
from joinedup.exchange.models import Administrator, ApiClient, Member, Subsystem
from joinedup.exchange.schemas import ApiClientRecord, NewApiClient, SubsystemRef

#: scrypt cost: N=2^14, r=8, p=1 (16 MiB, ~40 ms here), the parameters stored with each hash.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=5)
MIN_SECRET_LENGTH = 32
_CLIENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{7,63}$")
#: A hash of a secret nobody has, checked when the client id is unknown, so an answer takes
#: as long whether or not the id exists.
_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str) -> str:
    """``scrypt$N$r$p$salt$hash`` of ``secret`` (random 16-byte salt, 32-byte hash)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            secret.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=256 * 1024 * 1024,
        )
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _find_subsystem(session: Session, ref: SubsystemRef) -> tuple[Subsystem, Member] | None:
    row = session.execute(
        select(Subsystem, Member)
        .join(Member, Subsystem.member_id == Member.id)
        .where(
            Member.member_class == ref.member_class,
            Member.member_code == ref.member_code,
            Subsystem.code == ref.subsystem_code,
        )
    ).first()
    return (row[0], row[1]) if row else None


def _record(client: ApiClient, subsystem: Subsystem, member: Member) -> ApiClientRecord:
    instance = get_settings().xroad_instance
    return ApiClientRecord(
        client_id=client.client_id,
        name=client.name,
        subsystem=f"{instance}/{member.member_class}/{member.member_code}/{subsystem.code}",
        created_at=client.created_at,
        revoked_at=client.revoked_at,
    )


def register_api_client(
    session: Session,
    *,
    subsystem: SubsystemRef,
    name: str,
    actor: str,
    client_id: str | None = None,
    client_secret: str | None = None,
    hasher: Callable[[str], str] = hash_secret,
) -> NewApiClient:
    """Create an OAuth client bound to ``subsystem``. The id and secret are random unless
    given (the demo derives them from its seed; a given secret must be at least 32
    characters). ``hasher`` makes the stored hash (:func:`hash_secret`; the demo reuses the
    hashes of its public, seed-derived secrets instead of paying scrypt again per database).
    Writes one client row, counts a directory change, emits
    ``exchange.api_client_registered.v1``; the answer is the only place the secret appears."""
    problems: list[dict[str, str]] = []
    found = _find_subsystem(session, subsystem)
    if found is None:
        problems.append({"field": "subsystem", "message": f"{subsystem} is not registered"})
    if not name.strip() or len(name) > 300:
        problems.append({"field": "name", "message": "must be 1 to 300 characters"})
    if client_id is not None and not _CLIENT_ID.match(client_id):
        problems.append(
            {"field": "client_id", "message": "8 to 64 letters, digits, '.', '_' or '-'"}
        )
    elif client_id is not None and session.scalar(
        select(ApiClient.id).where(ApiClient.client_id == client_id)
    ):
        problems.append({"field": "client_id", "message": "is taken"})
    if client_secret is not None and len(client_secret) < MIN_SECRET_LENGTH:
        problems.append(
            {"field": "client_secret", "message": f"at least {MIN_SECRET_LENGTH} characters"}
        )
    if problems or found is None:
        raise ValidationFailed(
            "; ".join(f"{p['field']}: {p['message']}" for p in problems), errors=problems
        )
    secret = client_secret or secrets.token_urlsafe(32)
    stored = hasher(secret)
    client = ApiClient(
        client_id=client_id or "c-" + secrets.token_hex(12),
        subsystem_id=found[0].id,
        name=name.strip(),
        secret_hash=stored,
        created_at=utcnow(),
        created_by=actor,
        revoked_at=None,
        revoked_by=None,
        failed_attempts=0,
        locked_until=None,
    )
    session.add(client)
    session.flush()
    bump_generation(session)
    emit(session, ApiClientRegistered(client_id=client.client_id, subsystem=str(subsystem)))
    return NewApiClient(client=_record(client, *found), client_secret=secret)


def _load_client(session: Session, client_id: str) -> tuple[ApiClient, Subsystem, Member]:
    row = session.execute(
        select(ApiClient, Subsystem, Member)
        .join(Subsystem, ApiClient.subsystem_id == Subsystem.id)
        .join(Member, Subsystem.member_id == Member.id)
        .where(ApiClient.client_id == client_id)
    ).first()
    if row is None:
        raise NotFound(f"no API client {client_id}")
    return row[0], row[1], row[2]


def revoke_api_client(session: Session, *, client_id: str, actor: str) -> ApiClientRecord:
    """Revoke a client: its tokens stop working within the directory's staleness bound (about
    a second; at once in this process). Counts a directory change; emits
    ``exchange.api_client_revoked.v1``. Revoking a revoked client changes nothing."""
    client, subsystem, member = _load_client(session, client_id)
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        client.revoked_by = actor
        session.flush()
        bump_generation(session)
        emit(
            session,
            ApiClientRevoked(
                client_id=client_id,
                subsystem=f"{member.member_class}/{member.member_code}/{subsystem.code}",
            ),
        )
    return _record(client, subsystem, member)


def get_api_client(session: Session, *, client_id: str) -> ApiClientRecord:
    """One client (``NotFound`` if there is none)."""
    return _record(*_load_client(session, client_id))


def list_api_clients(
    session: Session, *, page: PageRequest, subsystem: SubsystemRef | None = None
) -> Page[ApiClientRecord]:
    """Clients in creation order (keyset pages), optionally of one subsystem."""
    statement: Select[ApiClient] = select(ApiClient)
    if subsystem is not None:
        found = _find_subsystem(session, subsystem)
        if found is None:
            raise NotFound(f"subsystem {subsystem} is not registered")
        statement = statement.where(ApiClient.subsystem_id == found[0].id)
    rows, cursor = keyset_page(session, statement, keys=[ApiClient.id.expression], request=page)
    owners = {
        s.id: (s, m)
        for s, m in session.execute(
            select(Subsystem, Member)
            .join(Member, Subsystem.member_id == Member.id)
            .where(Subsystem.id.in_({c.subsystem_id for c in rows}))
        )
    }
    items = [_record(c, *owners[c.subsystem_id]) for c in rows]
    return Page[ApiClientRecord](items=items, next_cursor=cursor)


@dataclass(frozen=True)
class SignIn:
    """The outcome of checking client credentials."""

    client_id: str | None  # the client, when the credentials are right
    reason: str  # "ok", "unknown", "wrong-secret", "locked", "revoked"


def check_client_credentials(
    session: Session, *, client_id: str, client_secret: str, now: datetime | None = None
) -> SignIn:
    """Check a client's id and secret, counting failures for the throttle.

    A wrong secret increments the client's failure counter (and locks it out for
    :data:`LOCKOUT` at :data:`MAX_FAILED_SIGN_INS`); a right one resets it. The changes are
    flushed: the caller commits them even when it refuses the request."""
    now = now or utcnow()
    client = session.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        verify_secret(client_secret, _DUMMY_HASH)
        return SignIn(None, "unknown")
    if client.revoked_at is not None:
        verify_secret(client_secret, _DUMMY_HASH)
        return SignIn(None, "revoked")
    if client.locked_until is not None and client.locked_until > now:
        return SignIn(None, "locked")
    if not verify_secret(client_secret, client.secret_hash):
        client.failed_attempts += 1
        if client.failed_attempts >= MAX_FAILED_SIGN_INS:
            client.locked_until = now + LOCKOUT
            client.failed_attempts = 0
        session.flush()
        return SignIn(None, "wrong-secret")
    if client.failed_attempts or client.locked_until is not None:
        client.failed_attempts = 0
        client.locked_until = None
        session.flush()
    return SignIn(client.client_id, "ok")


def appoint_administrator(session: Session, *, subsystem: SubsystemRef, actor: str) -> None:
    """Let the API clients of ``subsystem`` administer the exchange (members, services,
    rights, clients). Idempotent. Counts a directory change; emits
    ``exchange.administrator_appointed.v1``."""
    found = _find_subsystem(session, subsystem)
    if found is None:
        raise ValidationFailed(
            f"subsystem {subsystem} is not registered",
            errors=[{"field": "subsystem", "message": "is not registered"}],
        )
    if session.get(Administrator, found[0].id) is not None:
        return
    session.add(Administrator(subsystem_id=found[0].id, appointed_at=utcnow(), appointed_by=actor))
    session.flush()
    bump_generation(session)
    emit(session, AdministratorAppointed(subsystem=str(subsystem)))
