"""Demo accounts' credentials: derived from the seed and the personal code, so the demo's
sign-in page can list them and a visitor can try them. Deterministic for a seed; demo only —
a real account's credentials are the person's own and never derivable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joinedup.identity.models import ProviderAccount, ProviderAuthorization
from joinedup.identity.provider.accounts import DemoCredentials
from joinedup.identity.service.credentials import token_hash, totp, totp_step, unseal


def _digest(seed: int, personal_code: str, what: str) -> bytes:
    key = hashlib.sha256(f"joinedup demo accounts {seed}".encode()).digest()
    return hmac.new(key, f"{what}:{personal_code}".encode(), hashlib.sha256).digest()


def demo_credentials(seed: int, *, personal_code: str, given_names: str) -> DemoCredentials:
    """The demo credentials of a person: user name, password, one-time-code secret, PIN."""
    first = "".join(c for c in given_names.split(" ")[0].lower() if c.isalpha()) or "demo"
    username = f"{first[:20]}.{personal_code}"  # unique, as the personal code is
    password_raw = base64.b32encode(_digest(seed, personal_code, "password")).decode().lower()
    password = f"{password_raw[:4]}-{password_raw[4:8]}-{password_raw[8:12]}"
    otp = base64.b32encode(_digest(seed, personal_code, "otp")[:20]).decode().rstrip("=")
    pin = str(int.from_bytes(_digest(seed, personal_code, "pin")[:4], "big") % 9000 + 1000)
    return DemoCredentials(username=username, password=password, otp_secret=otp, pin=pin)


def demo_account_list(session: Session) -> list[dict[str, Any]]:
    """Every demo account with its credentials, for the demo's sign-in page."""
    rows = session.scalars(
        select(ProviderAccount)
        .where(ProviderAccount.demo_seed.is_not(None), ProviderAccount.disabled_at.is_(None))
        .order_by(ProviderAccount.id)
    )
    found = []
    for row in rows:
        assert row.demo_seed is not None
        credentials = demo_credentials(
            row.demo_seed, personal_code=row.personal_code, given_names=row.given_names
        )
        found.append(
            {
                "name": f"{row.given_names} {row.family_name}",
                "personal_code": row.personal_code,
                "username": credentials.username,
                "password": credentials.password,
                "pin": credentials.pin,
                "description": row.description,
                "tags": list(row.tags),
            }
        )
    return found


def current_demo_code(session: Session, *, handle: str, at: float) -> str | None:
    """The one-time code the authenticator app of the demo account that gave its password in
    this authorization would show now (the demo's stand-in for the person's phone). When
    the current step's code already signed the account in (a code is accepted once), the
    next step's, which is accepted as clock drift; None when that was used too."""
    row = session.get(ProviderAuthorization, token_hash(handle))
    if row is None or row.pending_account_id is None:
        return None
    account = session.get(ProviderAccount, row.pending_account_id)
    if account is None or account.demo_seed is None:
        return None
    secret = unseal(account.otp_secret)
    if not secret:
        return None
    now = totp_step(at)
    step = now if account.otp_last_step is None else max(now, account.otp_last_step + 1)
    return totp(secret, at=at, step_offset=step - now) if step <= now + 1 else None
