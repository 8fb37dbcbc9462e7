"""The embedded provider's accounts and the means of authenticating them.

Means (each yields a level of assurance and RFC 8176 ``amr`` values):

===============  ==============================================  ===========  ============
means            what the person gives                           level        amr
===============  ==============================================  ===========  ============
``password``     user name and password                          low          pwd
``password-otp`` user name and password, then a one-time code    substantial  pwd otp
                 from their authenticator app (RFC 6238)
``card``         a (simulated) eID card read by the browser —    high         sc pin
                 its personal code — and the card's PIN1
===============  ==============================================  ===========  ============

Failures are counted per account, per factor and per address (the rule is in
:mod:`...service.throttling`); an unknown account costs the same time as a wrong password.
A one-time code is accepted once: the account keeps the time step of the last code that
signed it in, and only a later step's code is accepted next.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import Conflict, ValidationFailed
from joinedup.identity.models import ProviderAccount
from joinedup.identity.schemas import LevelOfAssurance, ProviderAccountRecord
from joinedup.identity.service.credentials import (
    hash_credential,
    matching_totp_steps,
    seal,
    unseal,
    verify_credential,
    verify_nothing,
)
from joinedup.registries import is_valid_personal_code

MEANS: dict[str, tuple[LevelOfAssurance, tuple[str, ...]]] = {
    "password": (LevelOfAssurance.LOW, ("pwd",)),
    "password-otp": (LevelOfAssurance.SUBSTANTIAL, ("pwd", "otp")),
    "card": (LevelOfAssurance.HIGH, ("sc", "pin")),
}


@dataclass(frozen=True)
class DemoCredentials:
    username: str
    password: str
    otp_secret: str
    pin: str


def create_provider_account(
    session: Session,
    *,
    personal_code: str,
    given_names: str,
    family_name: str,
    credentials: DemoCredentials,
    description: str,
    tags: list[str],
    light_hashing: bool,
    actor: str,
    demo_seed: int | None = None,
) -> ProviderAccountRecord:
    """Create an account of the embedded provider. ``light_hashing`` for demo accounts whose
    credentials are published anyway. Writes one row; emits nothing (the embedded provider
    stands in for an external eID, which tells the platform nothing either)."""
    problems = []
    if not is_valid_personal_code(personal_code):
        problems.append({"field": "personal_code", "message": "is not a valid personal code"})
    if len(credentials.password) < 8:
        problems.append({"field": "password", "message": "must have at least 8 characters"})
    if not (credentials.pin.isdigit() and 4 <= len(credentials.pin) <= 12):
        problems.append({"field": "pin", "message": "must be 4 to 12 digits"})
    if not credentials.username or len(credentials.username) > 64:
        problems.append({"field": "username", "message": "must be 1 to 64 characters"})
    if problems:
        raise ValidationFailed("the account cannot be created", errors=problems)
    taken = session.scalar(
        select(ProviderAccount.id).where(
            (ProviderAccount.personal_code == personal_code)
            | (ProviderAccount.username == credentials.username)
        )
    )
    if taken:
        raise Conflict("an account with this personal code or user name exists")
    row = ProviderAccount(
        username=credentials.username,
        personal_code=personal_code,
        given_names=given_names,
        family_name=family_name,
        password_hash=hash_credential(credentials.password, light=light_hashing),
        otp_secret=seal(credentials.otp_secret),
        pin_hash=hash_credential(credentials.pin, light=light_hashing),
        description=description[:300],
        tags=sorted(set(tags)),
        demo_seed=demo_seed,
        created_at=utcnow(),
        created_by=actor[:100],
        disabled_at=None,
    )
    session.add(row)
    session.flush()
    return ProviderAccountRecord.model_validate(row)


def _active(session: Session, **where: str) -> ProviderAccount | None:
    statement = select(ProviderAccount).where(ProviderAccount.disabled_at.is_(None))
    for name, value in where.items():
        statement = statement.where(getattr(ProviderAccount, name) == value)
    return session.scalar(statement)


def account_named(session: Session, *, username: str) -> ProviderAccount | None:
    """The active account with this user name (what the password form names)."""
    return _active(session, username=username.strip()[:64])


def card_holder(session: Session, *, personal_code: str) -> ProviderAccount | None:
    """The active account of the card with this personal code (what the card form names)."""
    return _active(session, personal_code=personal_code.strip()[:20])


def password_matches(account: ProviderAccount | None, password: str) -> bool:
    """Whether ``password`` is the account's (the same time when there is no account)."""
    if account is None:
        return verify_nothing(password)
    return verify_credential(password, account.password_hash)


def pin_matches(account: ProviderAccount | None, pin: str) -> bool:
    """Whether ``pin`` is the PIN1 of the account's card (the same time when there is none)."""
    if account is None:
        return verify_nothing(pin)
    return verify_credential(pin, account.pin_hash)


def check_password(session: Session, *, username: str, password: str) -> ProviderAccount | None:
    """The account if the password is right, else None (same time either way)."""
    account = account_named(session, username=username)
    return account if password_matches(account, password) else None


def check_one_time_code(
    session: Session, account: ProviderAccount, code: str, *, at: float | None = None
) -> bool:
    """Whether ``code`` is the account's one-time code now (a step of drift either way) and
    no code of its step or a later one signed the account in before. If so, claims the step
    (an atomic update): a code is accepted once (RFC 6238 § 5.2)."""
    secret = unseal(account.otp_secret)
    steps = matching_totp_steps(secret, code, at=at) if secret is not None else []
    if not steps:
        return False
    step = steps[0]  # the newest: if it was used, so were the older ones
    claimed = session.execute(
        update(ProviderAccount)
        .where(
            ProviderAccount.id == account.id,
            or_(ProviderAccount.otp_last_step.is_(None), ProviderAccount.otp_last_step < step),
        )
        .values(otp_last_step=step)
    )
    return bool(getattr(claimed, "rowcount", 0))


def provider_accounts(session: Session) -> list[ProviderAccountRecord]:
    """Every active account, by family and given names."""
    rows = session.scalars(
        select(ProviderAccount)
        .where(ProviderAccount.disabled_at.is_(None))
        .order_by(ProviderAccount.id)
    )
    return [ProviderAccountRecord.model_validate(r) for r in rows]


def find_account(session: Session, *, account_id: int) -> ProviderAccount | None:
    return session.get(ProviderAccount, account_id)
