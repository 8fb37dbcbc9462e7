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

Failures are counted per account and per address (:mod:`...service.throttling`); an unknown
account costs the same time as a wrong password.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import Conflict, ValidationFailed
from joinedup.identity.models import ProviderAccount
from joinedup.identity.schemas import LevelOfAssurance, ProviderAccountRecord
from joinedup.identity.service.credentials import (
    hash_credential,
    seal,
    unseal,
    verify_credential,
    verify_nothing,
    verify_totp,
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


def check_password(session: Session, *, username: str, password: str) -> ProviderAccount | None:
    """The account if the password is right, else None (same time either way)."""
    account = _active(session, username=username.strip()[:64])
    if account is None:
        verify_nothing(password)
        return None
    return account if verify_credential(password, account.password_hash) else None


def check_one_time_code(account: ProviderAccount, code: str) -> bool:
    secret = unseal(account.otp_secret)
    return secret is not None and verify_totp(secret, code)


def check_card(session: Session, *, personal_code: str, pin: str) -> ProviderAccount | None:
    """The card holder's account if the PIN is right, else None."""
    account = _active(session, personal_code=personal_code.strip()[:20])
    if account is None:
        verify_nothing(pin)
        return None
    return account if verify_credential(pin, account.pin_hash) else None


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
