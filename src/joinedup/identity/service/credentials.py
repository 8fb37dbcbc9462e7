"""Secrets at rest: hashes of passwords, PINs, tokens and client secrets; one-time codes.

- Passwords, PINs and client secrets: scrypt (``scrypt$N$r$p$salt$hash``). Demo accounts'
  credentials are published on the embedded sign-in page, so they are hashed with a light
  cost (``light=True``): a slow hash protects nothing that is public, and the seed stays fast.
- Session tokens, authorization codes and access tokens are random 256-bit values: one
  SHA-256 is enough (nobody can guess a preimage), and a lookup by hash stays an index read.
- One-time codes: RFC 6238 TOTP (HMAC-SHA-1, 30-second steps, 6 ASCII digits), one step of
  clock drift either way; a step whose code signed someone in is not accepted again (RFC 6238
  § 5.2, the account keeps the last step used). The secret is sealed (AES-GCM) under a key
  derived from ``JOINEDUP_SECRET_KEY``, so a copy of the table alone does not yield codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from joinedup.core.settings import get_settings

_STRONG = (2**14, 8, 1)
_LIGHT = (2**10, 8, 1)
TOTP_STEP = 30
TOTP_DIGITS = 6


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_credential(secret: str, *, light: bool = False) -> str:
    """``scrypt$N$r$p$salt$hash`` of ``secret`` (random salt)."""
    n, r, p = _LIGHT if light else _STRONG
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_credential(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


#: A hash to verify against when there is no account, so an unknown name costs the same time.
_DUMMY = hash_credential("no such account", light=True)


def verify_nothing(secret: str) -> bool:
    """Spend the time of a verification and fail (unknown account: no timing oracle)."""
    verify_credential(secret, _DUMMY)
    return False


def new_token() -> str:
    """A random 256-bit token, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 hex of a random token (what the database keeps)."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(purpose: str, value: str) -> str:
    """An HMAC of ``value`` under ``JOINEDUP_SECRET_KEY`` (e.g. the throttling keys of an
    account and an address: stable, but no personal code or address in the table)."""
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def _sealing_key() -> bytes:
    secret = get_settings().secret_key.get_secret_value().encode()
    return hashlib.sha256(b"joinedup identity sealing key\x00" + secret).digest()


def seal(value: str) -> str:
    """``value`` encrypted and authenticated (AES-256-GCM) under the sealing key."""
    nonce = secrets.token_bytes(12)
    return _b64(nonce + AESGCM(_sealing_key()).encrypt(nonce, value.encode(), None))


def unseal(sealed: str) -> str | None:
    """The value :func:`seal` sealed, or None if it was sealed under another key or altered."""
    try:
        raw = _unb64(sealed)
        return AESGCM(_sealing_key()).decrypt(raw[:12], raw[12:], None).decode()
    except (InvalidTag, ValueError):
        return None


def new_totp_secret() -> str:
    """A random 160-bit TOTP secret in base32 (what an authenticator app is given)."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def totp_step(at: float | None = None) -> int:
    """The RFC 6238 time step (counter) at ``at`` (default now)."""
    return int((time.time() if at is None else at) // TOTP_STEP)


def totp(secret_b32: str, *, at: float | None = None, step_offset: int = 0) -> str:
    """The RFC 6238 code of ``secret_b32`` at ``at`` (default now)."""
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = totp_step(at) + step_offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    number = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**TOTP_DIGITS).zfill(TOTP_DIGITS)


def well_formed_code(code: str) -> str | None:
    """``code`` without spaces if it is six ASCII digits, else None. ``str.isdigit`` alone
    also takes other scripts' digits (``٣``, ``３``), which no authenticator app shows."""
    code = code.strip().replace(" ", "")
    if len(code) != TOTP_DIGITS or not (code.isascii() and code.isdigit()):
        return None
    return code


def matching_totp_steps(secret_b32: str, code: str, *, at: float | None = None) -> list[int]:
    """The time steps, among the current one and one either way, whose code is ``code``
    (newest first; usually none or one). Compares bytes in constant time."""
    given = well_formed_code(code)
    if given is None:
        return []
    at = time.time() if at is None else at  # one instant for the three steps
    now = totp_step(at)
    return [
        now + offset
        for offset in (1, 0, -1)
        if hmac.compare_digest(totp(secret_b32, at=at, step_offset=offset).encode(), given.encode())
    ]
