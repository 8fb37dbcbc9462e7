"""Forgetting what identity keeps only while a sign-in or a session is in use.

Every sign-in leaves rows behind: the relying party's sign-in request (its nonce and PKCE
verifier), the embedded provider's authorization (who signed in, when, and the request's
parameters) and its access token, the web session (the person's code, names and ID token),
and failed attempts counted for throttling. None is needed once it can no longer be used, so
a daily job deletes them a grace period after they stopped working: sessions a week after
they expired or ended (for questions about a recent sign-in), the rest a day after. A nonce
is refused again while its authorization is kept (a day past its 15 minutes; an ID token's
nonce check is the relying party's, against its own sign-in request, which lives 10 minutes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_
from sqlalchemy.orm import Session

from joinedup.identity.models import (
    ProviderAuthorization,
    ProviderToken,
    SignInFailure,
    SignInRequest,
    WebSession,
)

#: How long a web session is kept after it expired or ended.
SESSION_GRACE = timedelta(days=7)
#: How long a sign-in's other rows (request, authorization, token) are kept after they expired.
FLOW_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class Purged:
    """How many rows of each kind were deleted."""

    web_sessions: int
    sign_in_requests: int
    authorizations: int
    tokens: int
    failures: int

    def __str__(self) -> str:
        return (
            f"deleted {self.web_sessions} web sessions, {self.sign_in_requests} sign-in "
            f"requests, {self.authorizations} authorizations, {self.tokens} tokens, "
            f"{self.failures} failed sign-ins"
        )


def _deleted(session: Session, statement: Any) -> int:
    return int(cast(CursorResult[Any], session.execute(statement)).rowcount or 0)


def purge_expired(session: Session, *, now: datetime, failure_window: timedelta) -> Purged:
    """Delete, as of ``now``, the web sessions that expired or ended more than
    :data:`SESSION_GRACE` ago, the sign-in requests, provider authorizations (their code
    expired too) and access tokens that expired more than :data:`FLOW_GRACE` ago, and the
    failed sign-ins older than the throttling ``failure_window``. Emits nothing."""
    sessions_before = now - SESSION_GRACE
    flows_before = now - FLOW_GRACE
    return Purged(
        web_sessions=_deleted(
            session,
            delete(WebSession).where(
                or_(WebSession.expires_at < sessions_before, WebSession.ended_at < sessions_before)
            ),
        ),
        sign_in_requests=_deleted(
            session, delete(SignInRequest).where(SignInRequest.expires_at < flows_before)
        ),
        authorizations=_deleted(
            session,
            delete(ProviderAuthorization).where(
                ProviderAuthorization.expires_at < flows_before,
                or_(
                    ProviderAuthorization.code_expires_at.is_(None),
                    ProviderAuthorization.code_expires_at < flows_before,
                ),
            ),
        ),
        tokens=_deleted(
            session, delete(ProviderToken).where(ProviderToken.expires_at < flows_before)
        ),
        failures=_deleted(
            session, delete(SignInFailure).where(SignInFailure.failed_at < now - failure_window)
        ),
    )


__all__ = ["FLOW_GRACE", "SESSION_GRACE", "Purged", "purge_expired"]
