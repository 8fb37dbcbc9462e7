"""Sign-in throttling shared by every process: failures are rows in the database.

An account (any means of authentication) is locked after ``JOINEDUP_SIGNIN_MAX_FAILURES``
failures within the window; a client address after ``JOINEDUP_SIGNIN_MAX_FAILURES_PER_IP``
(guessing across many accounts from one place). The lock lifts as the failures age out of
the window. A successful sign-in clears the account's failures. The keys are HMACs, so the
table holds neither personal codes nor addresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import DomainError
from joinedup.core.settings import Settings
from joinedup.identity.models import SignInFailure
from joinedup.identity.service.credentials import keyed_hash


class TooManyAttempts(DomainError):
    slug = "too-many-sign-in-attempts"
    title = "Too many failed sign-in attempts"
    status = 429


@dataclass(frozen=True)
class ThrottlePolicy:
    max_per_account: int
    max_per_address: int
    window: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> ThrottlePolicy:
        return cls(
            max_per_account=settings.signin_max_failures,
            max_per_address=settings.signin_max_failures_per_ip,
            window=timedelta(minutes=settings.signin_window_minutes),
        )


def _keys(account: str | None, address: str | None) -> list[tuple[str, str]]:
    keys = []
    if account:
        keys.append(("account", keyed_hash("sign-in account", account.strip().lower())))
    if address:
        keys.append(("address", keyed_hash("sign-in address", address)))
    return keys


def check_sign_in_allowed(
    session: Session, *, account: str | None, address: str | None, policy: ThrottlePolicy
) -> None:
    """Raise :class:`TooManyAttempts` when the account or the address is locked now."""
    since = utcnow() - policy.window
    for scope, key in _keys(account, address):
        failures = session.scalar(
            select(func.count())
            .select_from(SignInFailure)
            .where(
                SignInFailure.scope == scope,
                SignInFailure.key == key,
                SignInFailure.failed_at > since,
            )
        )
        limit = policy.max_per_account if scope == "account" else policy.max_per_address
        if (failures or 0) >= limit:
            minutes = int(policy.window.total_seconds() // 60)
            raise TooManyAttempts(
                f"Too many failed attempts: try again in {minutes} minutes.",
                retry_after=int(policy.window.total_seconds()),
            )


def record_sign_in_failure(
    session: Session, *, account: str | None, address: str | None, policy: ThrottlePolicy
) -> None:
    """Count one failure for the account and the address. Also drops failures older than
    the window (keeps the table small). Emits nothing."""
    now = utcnow()
    session.execute(delete(SignInFailure).where(SignInFailure.failed_at <= now - policy.window))
    for scope, key in _keys(account, address):
        session.add(SignInFailure(scope=scope, key=key, failed_at=now))
    session.flush()


def clear_sign_in_failures(session: Session, *, account: str) -> None:
    """Forget an account's failures after it signed in. Emits nothing."""
    for scope, key in _keys(account, None):
        session.execute(
            delete(SignInFailure).where(SignInFailure.scope == scope, SignInFailure.key == key)
        )
