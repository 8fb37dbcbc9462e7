"""joinedup as a relying party of any OpenID Connect provider (the national eID; by default
the embedded provider, reached over HTTP exactly as an external one would be).

The flow: discovery (``/.well-known/openid-configuration``, issuer checked), an
authorization request with ``state`` (bound to the browser), ``nonce``, PKCE (S256) and the
level of assurance wanted as ``acr_values``; back at the callback, the code is exchanged at
the token endpoint (client authentication ``client_secret_basic``) and the ID token is
validated: signature against the provider's JWKS (refetched once when a new ``kid`` shows
up: key rotation), issuer, audience (and ``azp`` when there are several), expiry and
issue time with a minute of leeway, the nonce, and a level of assurance at least the one
asked for. The subject is mapped to a person by the ``personal_code`` claim (else ``sub``,
without a two-letter country prefix: ``EE38001085718`` → ``38001085718``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from joinedup.core.errors import ServiceUnavailable, Unauthenticated
from joinedup.identity.schemas import LevelOfAssurance, VerifiedIdentity
from joinedup.identity.service.sessions import PendingSignIn, SignInStart
from joinedup.registries import is_valid_personal_code

ALGORITHMS = ["ES256", "ES384", "EdDSA", "RS256", "PS256"]
LEEWAY = 60
METADATA_TTL = 3600
JWKS_REFETCH_INTERVAL = 60


class SignInRefused(Unauthenticated):
    """The provider's answer cannot be trusted or does not sign anybody in."""

    slug = "sign-in-refused"
    title = "The sign-in could not be completed"


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


@dataclass
class _Cached:
    metadata: ProviderMetadata
    fetched: float
    keys: KeySet | None = None
    keys_fetched: float = 0.0


_cache: dict[str, _Cached] = {}
_lock = threading.Lock()


def forget_provider_metadata() -> None:
    """Drop every cached discovery document and key set (tests, key rotation drills)."""
    with _lock:
        _cache.clear()


@dataclass(frozen=True)
class RelyingParty:
    """One configured client of one provider; ``http`` carries its requests."""

    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str
    http: httpx.Client

    # --- discovery and keys ---------------------------------------------------------------

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = self.http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The sign-in service cannot be reached.") from exc
        if response.status_code != 200:
            raise ServiceUnavailable("The sign-in service answered with an error.")
        try:
            body = response.json()
        except ValueError as exc:
            raise ServiceUnavailable("The sign-in service answered nonsense.") from exc
        if not isinstance(body, dict):
            raise ServiceUnavailable("The sign-in service answered nonsense.")
        return body

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document (cached for an hour)."""
        with _lock:
            cached = _cache.get(self.issuer)
            if cached is not None and time.monotonic() - cached.fetched < METADATA_TTL:
                return cached.metadata
        document = self._get(self.issuer + "/.well-known/openid-configuration")
        if document.get("issuer") != self.issuer:
            raise ServiceUnavailable("The sign-in service's discovery names another issuer.")
        try:
            metadata = ProviderMetadata(
                issuer=self.issuer,
                authorization_endpoint=str(document["authorization_endpoint"]),
                token_endpoint=str(document["token_endpoint"]),
                jwks_uri=str(document["jwks_uri"]),
                end_session_endpoint=document.get("end_session_endpoint"),
            )
        except KeyError as exc:
            raise ServiceUnavailable("The sign-in service's discovery is incomplete.") from exc
        with _lock:
            _cache[self.issuer] = _Cached(metadata=metadata, fetched=time.monotonic())
        return metadata

    def _keys(self, *, refresh: bool) -> KeySet:
        metadata = self.metadata()
        with _lock:
            cached = _cache[self.issuer]
            fresh = time.monotonic() - cached.keys_fetched < JWKS_REFETCH_INTERVAL
            if cached.keys is not None and (not refresh or fresh):
                return cached.keys
        try:
            keys = KeySet.import_key_set(self._get(metadata.jwks_uri))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise ServiceUnavailable("The sign-in service's keys cannot be read.") from exc
        with _lock:
            cached.keys, cached.keys_fetched = keys, time.monotonic()
        return keys

    # --- the flow -------------------------------------------------------------------------

    def authorization_url(
        self, start: SignInStart, *, minimum_level: LevelOfAssurance, locale: str
    ) -> str:
        """Where to send the browser to sign in."""
        parameters = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid profile",
            "state": start.state,
            "nonce": start.nonce,
            "code_challenge": start.code_challenge,
            "code_challenge_method": "S256",
            "acr_values": minimum_level.acr,
            "ui_locales": locale,
        }
        return self.metadata().authorization_endpoint + "?" + urlencode(parameters)

    def exchange(self, *, code: str, pending: PendingSignIn) -> VerifiedIdentity:
        """Trade the code for tokens and validate the ID token (``SignInRefused``)."""
        if not code or len(code) > 500:
            raise SignInRefused("The sign-in service sent no code.")
        metadata = self.metadata()
        try:
            response = self.http.post(
                metadata.token_endpoint,
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "code_verifier": pending.code_verifier,
                },
                auth=(self.client_id, self.client_secret),
                headers={"Accept": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable("The sign-in service cannot be reached.") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict):
            error = body.get("error", "error") if isinstance(body, dict) else "error"
            raise SignInRefused(f"The sign-in service refused the code ({error}).")
        id_token = body.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("The sign-in service sent no ID token.")
        identity = self.validate_id_token(id_token, nonce=pending.nonce)
        if not identity.level_of_assurance.at_least(pending.minimum_level):
            raise SignInRefused("The sign-in was at a lower level of assurance than asked for.")
        return identity

    def validate_id_token(
        self, id_token: str, *, nonce: str, now: float | None = None
    ) -> VerifiedIdentity:
        """The identity an ID token asserts, after every check (see the module docstring)."""
        header_kid = _kid(id_token)
        keys = self._keys(refresh=False)
        if header_kid is not None and not any(k.kid == header_kid for k in keys.keys):
            keys = self._keys(refresh=True)
        try:
            token = jwt.decode(id_token, keys, algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise SignInRefused("The ID token's signature is not valid.") from exc
        claims = token.claims
        moment = time.time() if now is None else now
        if claims.get("iss") != self.issuer:
            raise SignInRefused("The ID token was issued by another provider.")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client_id not in audiences:
            raise SignInRefused("The ID token was issued to another client.")
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise SignInRefused("The ID token was issued to another client.")
        expiry, issued = claims.get("exp"), claims.get("iat")
        if not isinstance(expiry, int | float) or expiry + LEEWAY < moment:
            raise SignInRefused("The ID token has expired.")
        if not isinstance(issued, int | float) or issued - LEEWAY > moment:
            raise SignInRefused("The ID token was issued in the future.")
        if not isinstance(claims.get("nonce"), str) or claims["nonce"] != nonce:
            raise SignInRefused("The ID token answers another sign-in (nonce).")
        level = LevelOfAssurance.from_acr(claims.get("acr"))
        if level is None:
            raise SignInRefused("The ID token names no known level of assurance.")
        code = _personal_code(claims)
        if code is None:
            raise SignInRefused("The ID token names no person joinedup knows.")
        auth_time = claims.get("auth_time", issued)
        return VerifiedIdentity(
            personal_code=code,
            given_names=str(claims.get("given_name") or ""),
            family_name=str(claims.get("family_name") or ""),
            level_of_assurance=level,
            methods=tuple(str(m) for m in claims.get("amr") or ()),
            authenticated_at=datetime.fromtimestamp(float(auth_time), UTC),
            issuer=self.issuer,
            id_token=id_token,
        )

    def end_session_url(self, *, id_token: str, state: str) -> str | None:
        """The provider's logout address (RP-initiated logout), when it has one."""
        try:
            endpoint = self.metadata().end_session_endpoint
        except ServiceUnavailable:
            return None
        if not endpoint:
            return None
        return (
            endpoint
            + "?"
            + urlencode(
                {
                    "id_token_hint": id_token,
                    "post_logout_redirect_uri": self.post_logout_redirect_uri,
                    "client_id": self.client_id,
                    "state": state,
                }
            )
        )


def _kid(token: str) -> str | None:
    try:
        from joserfc import jws

        header = jws.extract_compact(token.encode()).protected
    except (JoseError, ValueError):
        return None
    kid = header.get("kid")
    return str(kid) if kid else None


def _personal_code(claims: dict[str, Any]) -> str | None:
    for candidate in (claims.get("personal_code"), claims.get("sub")):
        if not isinstance(candidate, str):
            continue
        code = candidate[2:] if candidate[:2].isalpha() else candidate
        if is_valid_personal_code(code):
            return code
    return None
