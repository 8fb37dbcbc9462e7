"""Sign-in throttling shared by every process: failures are rows in the database.

What is counted. A failure is counted against the *account* the person named, whatever
identifier they typed (a user name for the password, a personal code for the card), and
against the *factor* that was wrong: the password, the card's PIN or the one-time code. An
identifier that names no account is counted as itself (so guessing at unknown names is
throttled, and looks the same as guessing at a real one). Every failure also counts against
the client address.

When an attempt is refused (``TooManyAttempts``), within the window of
``JOINEDUP_SIGNIN_WINDOW_MINUTES``:

- **the first factor** (a password, with or without a code to follow; a card's PIN): when
  the account's password and PIN failures *together* reach ``JOINEDUP_SIGNIN_MAX_FAILURES``.
  A locked account is locked for every means, so a PIN cannot be guessed once the password
  is locked, nor the other way round.
- **the one-time code**: when the account is locked as above, or when its one-time-code
  failures *alone* reach the same limit. Wrong codes do not lock the first factor (someone
  who knows the password can already sign in at the low level).
- **any attempt from an address** with ``JOINEDUP_SIGNIN_MAX_FAILURES_PER_IP`` failures
  (guessing across many accounts from one place).

A successful sign-in clears only the failures of the factors it proved: a password alone
clears the password's, password and code clear both, a card clears the PIN's. So a
lower-level sign-in never clears the failures of a factor it did not use: whoever knows the
password cannot reset the count of their guesses at the one-time code or the PIN by signing
in with the password alone. The lock lifts as the failures age out of the window.

Concurrency. On PostgreSQL :func:`check_sign_in_allowed` takes a transaction-scoped
advisory lock on the account (or the unknown identifier) before counting, so an account's
attempts run one after the other until the transaction that checks, verifies and records
the attempt commits: parallel guesses cannot all pass the count before any is recorded.
Only that account's attempts wait (the lock is per account, not per address: people signing
in behind one address do not queue behind each other's scrypt); an address's count can be
passed by as many attempts as are in flight at once. SQLite serialises writers anyway
(``BEGIN IMMEDIATE``).

The keys are HMACs, so the table holds neither personal codes nor addresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import DomainError
from joinedup.core.settings import Settings
from joinedup.identity.models import SignInFailure
from joinedup.identity.service.credentials import keyed_hash

#: The first of ``pg_advisory_xact_lock``'s two keys for sign-in attempts ("sign" in ASCII);
#: the two-key form does not share its key space with the one-key locks used elsewhere.
_LOCK_CLASS = 0x7369_676E


class TooManyAttempts(DomainError):
    slug = "too-many-sign-in-attempts"
    title = "Too many failed sign-in attempts"
    status = 429


class SignInFactor(StrEnum):
    """What a person proves in one step of a sign-in (counted separately, see above)."""

    PASSWORD = "password"  # noqa: S105 (the factor's name, not a password)
    PIN = "pin"  # the (simulated) eID card's PIN1
    ONE_TIME_CODE = "one-time-code"


#: The factors a sign-in starts with: their failures lock the account together.
FIRST_FACTORS = (SignInFactor.PASSWORD, SignInFactor.PIN)


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


def _subject(account: str | None, account_id: int | None) -> str | None:
    """Who failures are counted against: the account when the identifier names one, else
    the identifier as typed (trimmed, case folded)."""
    if account_id is not None:
        return f"account\x00{account_id}"
    if account and account.strip():
        return f"identifier\x00{account.strip().lower()}"
    return None


def _factor_keys(subject: str, factors: Sequence[SignInFactor]) -> list[str]:
    if subject.startswith("identifier\x00"):  # no account: no factors to tell apart
        return [keyed_hash("sign-in account", subject)]
    return sorted({keyed_hash("sign-in account", f"{subject}\x00{f}") for f in factors})


def _address_key(address: str) -> str:
    return keyed_hash("sign-in address", address)


def _lock(session: Session, subject: str) -> None:
    """Wait for the other attempts on ``subject`` to commit (PostgreSQL; held until this
    transaction ends). A 32-bit key: two accounts sharing one merely wait for each other."""
    if session.get_bind().dialect.name != "postgresql":
        return
    key = int(keyed_hash("sign-in lock", subject)[:8], 16) - 2**31
    session.execute(
        text("SELECT pg_advisory_xact_lock(:class, :key)"), {"class": _LOCK_CLASS, "key": key}
    )


def _failures(session: Session, *, scope: str, keys: Sequence[str], since: datetime) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(SignInFailure)
        .where(
            SignInFailure.scope == scope,
            SignInFailure.key.in_(keys),
            SignInFailure.failed_at > since,
        )
    )
    return count or 0


def check_sign_in_allowed(
    session: Session,
    *,
    account: str | None,
    address: str | None,
    policy: ThrottlePolicy,
    factor: SignInFactor = SignInFactor.PASSWORD,
    account_id: int | None = None,
) -> None:
    """Raise :class:`TooManyAttempts` when an attempt at ``factor`` is refused now (the rule
    is in the module's docstring). ``account`` is the identifier typed, ``account_id`` the
    account it names (None when it names none). On PostgreSQL, first waits for the other
    attempts on the same account to commit: call it in the transaction that will record
    the attempt's outcome. Writes nothing."""
    since = utcnow() - policy.window
    subject = _subject(account, account_id)
    if subject is not None:
        _lock(session, subject)
        counted = [FIRST_FACTORS] if factor in FIRST_FACTORS else [FIRST_FACTORS, (factor,)]
        for factors in counted:
            failures = _failures(
                session, scope="account", keys=_factor_keys(subject, factors), since=since
            )
            if failures >= policy.max_per_account:
                _refuse(policy)
    if address:
        failures = _failures(session, scope="address", keys=[_address_key(address)], since=since)
        if failures >= policy.max_per_address:
            _refuse(policy)


def _refuse(policy: ThrottlePolicy) -> None:
    minutes = int(policy.window.total_seconds() // 60)
    raise TooManyAttempts(
        f"Too many failed attempts: try again in {minutes} minutes.",
        retry_after=int(policy.window.total_seconds()),
    )


def record_sign_in_failure(
    session: Session,
    *,
    account: str | None,
    address: str | None,
    policy: ThrottlePolicy,
    factor: SignInFactor = SignInFactor.PASSWORD,
    account_id: int | None = None,
) -> None:
    """Count one failure of ``factor`` for the account (or the identifier that names none)
    and one for the address. Also drops those keys' failures older than the window (the
    daily housekeeping drops the rest: deleting everyone's here would make concurrent
    attempts on other accounts wait on each other's rows). Emits nothing."""
    now = utcnow()
    subject = _subject(account, account_id)
    rows = [("account", key) for key in (_factor_keys(subject, [factor]) if subject else [])]
    if address:
        rows.append(("address", _address_key(address)))
    for scope, key in rows:
        session.execute(
            delete(SignInFailure).where(
                SignInFailure.scope == scope,
                SignInFailure.key == key,
                SignInFailure.failed_at <= now - policy.window,
            )
        )
        session.add(SignInFailure(scope=scope, key=key, failed_at=now))
    session.flush()


def clear_sign_in_failures(
    session: Session, *, account_id: int, factors: Sequence[SignInFactor]
) -> None:
    """Forget the account's failures of the ``factors`` a sign-in just proved (and only
    those: see the module's docstring). Emits nothing."""
    keys = _factor_keys(f"account\x00{account_id}", factors)
    session.execute(
        delete(SignInFailure).where(SignInFailure.scope == "account", SignInFailure.key.in_(keys))
    )
