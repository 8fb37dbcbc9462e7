"""Web sessions and the sign-in requests that lead to them.

A web session is a row; the browser holds only a random token whose SHA-256 is the row's id.
Every sign-in starts a *new* session (a token chosen by the server, never one the browser
brought: no session fixation). A session ends when its person signs out, when it was idle
longer than the idle timeout, or at its absolute lifetime; an ended session is never revived.

A sign-in request keeps what joinedup sent the OpenID Connect provider (state, nonce, PKCE
verifier, the level asked for, where to return) until the provider sends the browser back;
it is bound to the browser by a second random cookie and can be completed once.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Connection, CursorResult, Select, bindparam, select, update
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import Forbidden
from joinedup.identity.models import SignInRequest, WebSession
from joinedup.identity.schemas import LevelOfAssurance, VerifiedIdentity
from joinedup.identity.service.credentials import new_token, token_hash

SIGN_IN_REQUEST_LIFETIME = timedelta(minutes=10)
#: A session's ``last_seen_at`` is written at most this often (not on every request).
TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class WebSessionRecord:
    id: str
    personal_code: str
    given_names: str
    family_name: str
    level_of_assurance: LevelOfAssurance
    methods: tuple[str, ...]
    issuer: str
    id_token: str
    csrf_secret: str
    authenticated_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    acting_for: str | None
    acting_for_name: str | None
    acting_for_kind: str | None
    acting_checked_at: datetime | None

    @property
    def display_name(self) -> str:
        return f"{self.given_names} {self.family_name}".strip()


#: The columns a :class:`WebSessionRecord` is made of (its fields' names).
_RECORD_COLUMNS = tuple(f.name for f in fields(WebSessionRecord))


def _record(row: Any) -> WebSessionRecord:
    """The record of a session row (an ORM object or a selected row of its columns)."""
    return WebSessionRecord(
        id=row.id,
        personal_code=row.personal_code,
        given_names=row.given_names,
        family_name=row.family_name,
        level_of_assurance=LevelOfAssurance(row.level_of_assurance),
        methods=tuple(row.methods.split()),
        issuer=row.issuer,
        id_token=row.id_token,
        csrf_secret=row.csrf_secret,
        authenticated_at=row.authenticated_at,
        last_seen_at=row.last_seen_at,
        expires_at=row.expires_at,
        acting_for=row.acting_for,
        acting_for_name=row.acting_for_name,
        acting_for_kind=row.acting_for_kind,
        acting_checked_at=row.acting_checked_at,
    )


def start_web_session(
    session: Session, *, identity: VerifiedIdentity, lifetime: timedelta
) -> tuple[str, WebSessionRecord]:
    """Open a session for ``identity``; returns the cookie token (shown once) and the record.
    Writes one session row; emits nothing."""
    token = new_token()
    now = utcnow()
    row = WebSession(
        id=token_hash(token),
        personal_code=identity.personal_code,
        given_names=identity.given_names[:200],
        family_name=identity.family_name[:200],
        level_of_assurance=str(identity.level_of_assurance),
        methods=" ".join(identity.methods)[:100],
        issuer=identity.issuer[:300],
        id_token=identity.id_token,
        csrf_secret=secrets.token_urlsafe(32),
        authenticated_at=identity.authenticated_at,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        ended_at=None,
        end_reason=None,
        acting_for=None,
        acting_for_name=None,
        acting_for_kind=None,
        acting_checked_at=None,
    )
    session.add(row)
    session.flush()
    return token, _record(row)


def find_web_session(
    session: Session | Connection, *, token: str, idle: timedelta
) -> WebSessionRecord | None:
    """The live session the cookie ``token`` names, or None (unknown, ended, idle too long,
    past its lifetime). Reads only; in an ORM session or on a plain connection (every page
    asks: :meth:`~joinedup.core.db.Database.reading_rows`)."""
    if not token or len(token) > 200:
        return None
    connection = session.connection() if isinstance(session, Session) else session
    row = connection.execute(_session_select(), {"id": token_hash(token)}).first()
    if row is None or row.ended_at is not None:
        return None
    now = utcnow()
    if now >= row.expires_at or now - row.last_seen_at >= idle:
        return None
    return _record(row)


@cache
def _session_select() -> Select[Any]:
    """Built once (every page asks): the session by the ``id`` bind, as a row."""
    return select(
        *(getattr(WebSession, name) for name in _RECORD_COLUMNS), WebSession.ended_at
    ).where(WebSession.id == bindparam("id"))


def touch_web_session(session: Session, *, session_id: str) -> bool:
    """Record activity (the idle timeout restarts) unless it was recorded within the last
    minute; returns whether a row was written. Emits nothing."""
    now = utcnow()
    result = session.execute(
        update(WebSession)
        .where(
            WebSession.id == session_id,
            WebSession.ended_at.is_(None),
            WebSession.last_seen_at < now - TOUCH_INTERVAL,
        )
        .values(last_seen_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def end_web_session(session: Session, *, session_id: str, reason: str) -> None:
    """End a session (sign-out, or revocation by an operator). Emits nothing."""
    session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason[:30])
    )


def end_sessions_of(session: Session, *, personal_code: str, reason: str) -> int:
    """End every live session of a person (e.g. after an account was disabled)."""
    result = session.execute(
        update(WebSession)
        .where(WebSession.personal_code == personal_code, WebSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason[:30])
    )
    return int(getattr(result, "rowcount", 0))


def set_acting_for(
    session: Session,
    *,
    session_id: str,
    subject_code: str | None,
    subject_name: str | None = None,
    kind: str | None = None,
    checked_at: datetime | None = None,
    if_acting_for: str | None = None,
) -> bool:
    """Record whom the session's person now acts for (None: themselves), on what mandate
    kind, and when that mandate was last confirmed. With ``if_acting_for``, only while the
    session still acts for that person (a check of the mandate it held must not undo a
    choice made meanwhile, in another tab). Whether it was recorded. Emits nothing (no
    mandate changed)."""
    statement = update(WebSession).where(WebSession.id == session_id)
    if if_acting_for is not None:
        statement = statement.where(WebSession.acting_for == if_acting_for)
    result = session.execute(
        statement.values(
            acting_for=subject_code,
            acting_for_name=(subject_name or "")[:300] if subject_code else None,
            acting_for_kind=kind if subject_code else None,
            acting_checked_at=checked_at if subject_code else None,
        )
    )
    return cast("CursorResult[Any]", result).rowcount > 0


# --- sign-in requests -------------------------------------------------------------------------


@dataclass(frozen=True)
class SignInStart:
    """What the browser is sent to the provider with (and the cookie that binds it)."""

    state: str
    nonce: str
    code_verifier: str
    code_challenge: str
    binding: str  # the cookie's value


@dataclass(frozen=True)
class PendingSignIn:
    nonce: str
    code_verifier: str
    minimum_level: LevelOfAssurance
    return_to: str


def begin_sign_in(
    session: Session, *, minimum_level: LevelOfAssurance, return_to: str, binding: str | None
) -> SignInStart:
    """Remember a sign-in about to be sent to the provider: a fresh state, nonce and PKCE
    verifier (S256). ``binding`` is the browser's existing binding cookie, if any (several
    tabs may sign in at once). Writes one row; emits nothing."""
    now = utcnow()
    binding = binding if binding and 20 <= len(binding) <= 100 else new_token()
    state, nonce, verifier = new_token(), new_token(), secrets.token_urlsafe(64)[:96]
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    session.add(
        SignInRequest(
            id=token_hash(state),
            binding=token_hash(binding),
            nonce=nonce,
            code_verifier=verifier,
            minimum_level=str(minimum_level),
            return_to=return_to[:500],
            created_at=now,
            expires_at=now + SIGN_IN_REQUEST_LIFETIME,
            used_at=None,
        )
    )
    session.flush()
    return SignInStart(
        state=state, nonce=nonce, code_verifier=verifier, code_challenge=challenge, binding=binding
    )


def complete_sign_in_request(session: Session, *, state: str, binding: str | None) -> PendingSignIn:
    """Take the sign-in request ``state`` names, once: refused (``Forbidden``) when it is
    unknown, used, expired or was started by another browser. Marks it used; emits nothing."""
    refused = Forbidden(
        "This sign-in cannot be completed (it expired, was already used or was started "
        "elsewhere): start again."
    )
    if not state or not binding or len(state) > 200 or len(binding) > 200:
        raise refused
    now = utcnow()
    row = session.scalar(
        select(SignInRequest).where(SignInRequest.id == token_hash(state)).with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise refused
    if not secrets.compare_digest(row.binding, token_hash(binding)):
        raise refused
    claimed = session.execute(
        update(SignInRequest)
        .where(SignInRequest.id == row.id, SignInRequest.used_at.is_(None))
        .values(used_at=now)
    )
    if not getattr(claimed, "rowcount", 0):
        raise refused
    return PendingSignIn(
        nonce=row.nonce,
        code_verifier=row.code_verifier,
        minimum_level=LevelOfAssurance(row.minimum_level),
        return_to=row.return_to,
    )
