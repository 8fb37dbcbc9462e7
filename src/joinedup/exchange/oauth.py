"""OAuth 2.0 access tokens for agency systems: the client credentials grant (RFC 6749 §4.4).

A token is a JWT (RFC 7519, profile RFC 9068 ``at+jwt``) in JWS compact serialisation
signed with EdDSA (Ed25519, RFC 8037) by the platform's token key
(:func:`joinedup.exchange.service.keys.token_signing_key`). Claims: ``iss``, ``sub`` and
``client_id`` (the client id), ``aud`` (the exchange), ``iat``, ``exp`` (+15 minutes),
``jti``, and ``subsystem`` (the X-Road id of the subsystem the client is bound to).

:func:`authenticate_client` checks a Bearer token: the header must say EdDSA and name a key
we hold; the signature, ``iss``, ``aud`` and ``exp`` must hold; and the client must still be
active. A token that passed is remembered (in the directory snapshot, so a revoked client or a
new key clears it) until it expires, so checking it again costs a dictionary look-up instead
of an Ed25519 verification.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from sqlalchemy.orm import Session

from joinedup.core.errors import DomainError, Unauthenticated
from joinedup.core.keys import SigningKey
from joinedup.core.settings import get_settings
from joinedup.exchange.access import ClientIdentity
from joinedup.exchange.directory import Directory, current_directory, mark_stale
from joinedup.exchange.service.clients import check_client_credentials
from joinedup.exchange.service.keys import token_signing_key

TOKEN_LIFETIME_SECONDS = 15 * 60
#: Clock difference tolerated between the token's issuer and its checker (``iat`` in future).
LEEWAY_SECONDS = 30
_TOKEN_TYPE = "at+jwt"  # noqa: S105 (a media type, not a secret)
#: Verified tokens remembered per snapshot; past this many the memory is cleared.
TOKEN_CACHE_SIZE = 100_000


def issuer() -> str:
    return f"urn:joinedup:{get_settings().xroad_instance}:oauth"


def audience() -> str:
    return f"urn:joinedup:{get_settings().xroad_instance}:exchange"


class OAuthError(DomainError):
    """A refused token request, answered with RFC 6749 §5.2's ``error`` and
    ``error_description`` inside the problem document."""

    error: ClassVar[str] = "invalid_request"

    def __init__(self, description: str) -> None:
        super().__init__(description, error=self.error, error_description=description)


class InvalidRequest(OAuthError):
    slug = "oauth-invalid-request"
    title = "The token request is not valid"
    status = 400
    error = "invalid_request"


class InvalidClient(OAuthError):
    slug = "oauth-invalid-client"
    title = "Client authentication failed"
    status = 401
    error = "invalid_client"


class UnsupportedGrantType(OAuthError):
    slug = "oauth-unsupported-grant-type"
    title = "The grant type is not supported"
    status = 400
    error = "unsupported_grant_type"


_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def b64url_decode(text: str) -> bytes:
    if not _BASE64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_part(data: dict[str, Any]) -> str:
    return b64url(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())


def sign_jwt(claims: dict[str, Any], key: SigningKey) -> str:
    """A JWS compact serialisation of ``claims`` signed EdDSA (Ed25519) by ``key``."""
    header = _json_part({"alg": "EdDSA", "typ": _TOKEN_TYPE, "kid": key.key_id})
    signing_input = f"{header}.{_json_part(claims)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode('ascii')))}"


@dataclass(frozen=True)
class AccessToken:
    """The answer of the token endpoint (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 (RFC 6750 token type, not a secret)


def issue_access_token(session: Session, *, client_id: str, client_secret: str) -> AccessToken:
    """Check client credentials and issue an access token for the client's subsystem.

    Refusals raise :class:`OAuthError` (``invalid_client``, 401). A wrong secret is counted
    (flushed) for sign-in throttling, so the caller commits before it answers. May create the
    platform's token key on first use (a directory change)."""
    sign_in = check_client_credentials(session, client_id=client_id, client_secret=client_secret)
    if sign_in.client_id is None:
        description = {
            "locked": "too many failed sign-ins: the client is locked out for a few minutes",
        }.get(sign_in.reason, "the client id or secret is not valid, or the client is revoked")
        raise InvalidClient(description)
    key = token_signing_key(session)
    identity = current_directory(session).clients.get(sign_in.client_id)
    if identity is None:  # another process changed the directory since the last check
        mark_stale(session)
        identity = current_directory(session).clients.get(sign_in.client_id)
    if identity is None:
        raise InvalidClient("the client is not active")
    now = int(time.time())
    claims = {
        "iss": issuer(),
        "sub": identity.client_id,
        "client_id": identity.client_id,
        "aud": audience(),
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "jti": secrets.token_hex(16),
        "subsystem": identity.xroad_id,
    }
    return AccessToken(access_token=sign_jwt(claims, key), expires_in=TOKEN_LIFETIME_SECONDS)


def _refuse(description: str) -> Unauthenticated:
    return Unauthenticated(description, error="invalid_token")


def _verify(
    directory: Directory, token: str, now: float, refresh: Callable[[], Directory]
) -> tuple[str, float, Directory]:
    """The client id and expiry of a valid ``token``, and the directory that knew its key and
    client (raises Unauthenticated otherwise). A key or client the snapshot does not hold is
    looked for again in a refreshed one (``refresh``): made a moment ago by another process (its
    snapshot is re-checked at most once a second), it is not a forgery."""
    try:
        header_part, claims_part, signature_part = token.split(".")
        header = json.loads(b64url_decode(header_part))
        claims = json.loads(b64url_decode(claims_part))
        signature = b64url_decode(signature_part)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _refuse("the access token is not a JWS compact serialisation") from exc
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise _refuse("the access token is not a JWT")
    if header.get("alg") != "EdDSA" or header.get("typ") != _TOKEN_TYPE:
        raise _refuse("the access token is not an EdDSA-signed at+jwt")
    key_id = header.get("kid")
    key = directory.verifying_key(key_id) if isinstance(key_id, str) else None
    refreshed = False
    if key is None and isinstance(key_id, str):
        directory, refreshed = refresh(), True
        key = directory.verifying_key(key_id)
    if key is None:
        raise _refuse("the access token was signed by a key this exchange does not hold")
    if not key.verify(signature, f"{header_part}.{claims_part}".encode("ascii")):
        raise _refuse("the access token's signature is not valid")
    expires, issued = claims.get("exp"), claims.get("iat")
    if not isinstance(expires, int) or not isinstance(issued, int):
        raise _refuse("the access token has no exp or iat")
    if expires <= now:
        raise _refuse("the access token has expired: request a new one")
    if issued > now + LEEWAY_SECONDS:
        raise _refuse("the access token was issued in the future")
    if claims.get("iss") != issuer() or claims.get("aud") != audience():
        raise _refuse("the access token was not issued for this exchange")
    client_id = claims.get("client_id")
    identity = directory.clients.get(client_id) if isinstance(client_id, str) else None
    if identity is None and isinstance(client_id, str) and not refreshed:  # (fresh already)
        directory = refresh()
        identity = directory.clients.get(client_id)
    if identity is None:
        raise _refuse("the access token's client is revoked or unknown")
    if claims.get("sub") != client_id or claims.get("subsystem") != identity.xroad_id:
        raise _refuse("the access token does not match its client")
    return identity.client_id, float(expires), directory


def authenticate_client(session: Session, *, authorization: str | None) -> ClientIdentity:
    """The client subsystem the ``Authorization: Bearer <token>`` header proves. Raises
    ``Unauthenticated`` (``error`` ``invalid_token`` in the problem) for a missing, malformed,
    forged, expired or foreign token, or a revoked client. Changes nothing."""
    if not authorization:
        raise Unauthenticated(
            "send an access token: Authorization: Bearer <token> from POST /oauth/token",
            error="invalid_request",
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refuse("the Authorization header must be 'Bearer <access token>'")
    directory = current_directory(session)
    now = time.time()
    remembered = directory.tokens.get(token)
    if remembered is not None and remembered[1] > now:
        identity = directory.clients.get(remembered[0])
        if identity is not None:
            return identity
    client_id, expires, directory = _verify(
        directory, token, now, lambda: current_directory(session, check=True)
    )
    if len(directory.tokens) >= TOKEN_CACHE_SIZE:
        directory.tokens.clear()
    directory.tokens[token] = (client_id, expires)
    return directory.clients[client_id]


def json_web_key_set(session: Session) -> dict[str, Any]:
    """The public keys that verify access tokens, as a JWK Set (RFC 7517, OKP keys RFC 8037):
    the active key and those retired less than a token lifetime ago (none before the first
    token is issued)."""
    directory = current_directory(session)
    now = time.time()
    keys = []
    for stored in directory.token_keys.values():
        if stored.retired_at and stored.retired_at.timestamp() + TOKEN_LIFETIME_SECONDS < now:
            continue
        verifying = directory.verifying_key(stored.key_id)
        assert verifying is not None
        keys.append(
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64url(verifying.raw),
                "kid": stored.key_id,
                "use": "sig",
                "alg": "EdDSA",
            }
        )
    return {"keys": keys}
