"""The embedded OpenID Connect provider on Authlib: authorization code flow with PKCE (S256
required), ``state`` and ``nonce`` (required), client authentication at the token endpoint
(``client_secret_basic`` or ``client_secret_post``), ES256 ID tokens carrying ``acr`` (the
eIDAS level of assurance) and ``amr``.

Authlib validates and answers the protocol; this module gives it storage (the ``idp_*``
tables, through the caller's session) and the framework-neutral request it reads. A
:class:`EmbeddedProvider` is made per HTTP request around that request's database session.

The platform's own portal is a *built-in* client (id ``JOINEDUP_OIDC_CLIENT_ID``, secret
derived from ``JOINEDUP_SECRET_KEY``, redirect URIs under ``JOINEDUP_PUBLIC_URL``): nothing
to register, nothing two processes could race to insert. Other relying parties are rows of
``idp_client`` (:func:`register_provider_client`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from authlib.oauth2 import AuthorizationServer, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, OAuth2Payload
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import AuthorizationCodeMixin, OpenIDCode, UserInfo
from joserfc.jwk import ECKey
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import Conflict, ValidationFailed
from joinedup.core.settings import Settings
from joinedup.identity.models import ProviderAccount, ProviderAuthorization, ProviderClient
from joinedup.identity.models import ProviderToken as TokenRow
from joinedup.identity.provider.keys import ALGORITHM, provider_signing_key
from joinedup.identity.schemas import LevelOfAssurance
from joinedup.identity.service.credentials import (
    hash_credential,
    new_token,
    token_hash,
    verify_credential,
)

SCOPES = ("openid", "profile")
CODE_LIFETIME = timedelta(minutes=2)
ACCESS_TOKEN_SECONDS = 600
ID_TOKEN_SECONDS = 600
AUTHENTICATION_WINDOW = timedelta(minutes=15)
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
CALLBACK_PATH = "/portal/sign-in/callback"
SIGNED_OUT_PATH = "/portal/signed-out"


def builtin_client_secret(settings: Settings) -> str:
    """The portal's secret at the embedded provider, derived from ``JOINEDUP_SECRET_KEY``."""
    key = settings.secret_key.get_secret_value().encode()
    return hmac.new(key, b"joinedup embedded provider: portal", hashlib.sha256).hexdigest()


@dataclass
class RegisteredClient(ClientMixin):  # type: ignore[misc]  # Authlib is untyped
    client_id: str
    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    secret_hash: str | None = None
    secret: str | None = None  # the built-in client's (derived) secret

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # redirect_uri is required: no guessing where to send a code

    def get_allowed_scope(self, scope: str | None) -> str:
        asked = (scope or "").split()
        return " ".join(s for s in SCOPES if s in asked)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        if self.secret is not None:
            return hmac.compare_digest(client_secret.encode(), self.secret.encode())
        return self.secret_hash is not None and verify_credential(client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method in AUTH_METHODS

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


class _Payload(OAuth2Payload):  # type: ignore[misc]  # Authlib is untyped
    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in items:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class ProviderRequest(OAuth2Request):  # type: ignore[misc]  # Authlib is untyped
    """An HTTP request as Authlib reads it (framework-neutral)."""

    def __init__(
        self,
        *,
        method: str,
        uri: str,
        headers: Mapping[str, str],
        query: Sequence[tuple[str, str]] = (),
        form: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(method=method, uri=uri, headers=headers)  # case-insensitive: kept
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload([*query, *form])
        self.authorization_id: str | None = None

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class IssuedCode(AuthorizationCodeMixin):  # type: ignore[misc]  # Authlib is untyped
    row: ProviderAuthorization
    parameters: dict[str, Any] = field(default_factory=dict)

    def get_redirect_uri(self) -> str:
        return str(self.row.parameters.get("redirect_uri", ""))

    def get_scope(self) -> str:
        return str(self.row.parameters.get("scope", ""))

    def get_nonce(self) -> str | None:
        nonce = self.row.parameters.get("nonce")
        return str(nonce) if nonce else None

    def get_auth_time(self) -> int | None:
        at = self.row.authenticated_at
        return int(at.timestamp()) if at else None

    def get_acr(self) -> str | None:
        level = self.row.level_of_assurance
        return LevelOfAssurance(level).acr if level else None

    def get_amr(self) -> list[str] | None:
        return (self.row.methods or "").split() or None

    @property
    def code_challenge(self) -> str | None:
        return self.row.parameters.get("code_challenge")

    @property
    def code_challenge_method(self) -> str | None:
        return self.row.parameters.get("code_challenge_method")


class RequiredS256(CodeChallenge):  # type: ignore[misc]  # Authlib is untyped
    """PKCE is not optional here, and only S256 is accepted (RFC 9700 § 2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (Authlib reads the class attribute)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("'code_challenge' is required (PKCE with S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("'code_verifier' is required (PKCE)")
        super().validate_code_verifier(grant, result)


class CodeGrant(AuthorizationCodeGrant):  # type: ignore[misc]  # Authlib is untyped
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)  # noqa: RUF012

    def save_authorization_code(self, code: str, request: ProviderRequest) -> None:
        self.server.store_code(code, request)

    def query_authorization_code(self, code: str, client: RegisteredClient) -> IssuedCode | None:
        return self.server.claim_code(code, client)  # type: ignore[no-any-return]

    def delete_authorization_code(self, authorization_code: IssuedCode) -> None:
        """Nothing: :meth:`EmbeddedProvider.claim_code` used the code up already."""

    def authenticate_user(self, authorization_code: IssuedCode) -> ProviderAccount | None:
        account_id = authorization_code.row.account_id
        return self.server.session.get(ProviderAccount, account_id) if account_id else None


class IdToken(OpenIDCode):  # type: ignore[misc]  # Authlib is untyped
    def __init__(self, provider: EmbeddedProvider) -> None:
        super().__init__(require_nonce=True)
        self.provider = provider

    def exists_nonce(self, nonce: str, request: ProviderRequest) -> bool:
        return self.provider.nonce_used(request.payload.client_id, nonce)

    def resolve_client_private_key(self, client: RegisteredClient) -> ECKey:
        return self.provider.key

    def get_client_algorithm(self, client: RegisteredClient) -> str:
        return ALGORITHM

    def get_encode_header(self, client: RegisteredClient) -> dict[str, str]:
        return {"alg": ALGORITHM, "kid": str(self.provider.key.kid), "typ": "JWT"}

    def get_client_claims(self, client: RegisteredClient) -> dict[str, Any]:
        now = int(time.time())
        return {
            "iss": self.provider.issuer,
            "aud": [client.client_id],
            "iat": now,
            "exp": now + ID_TOKEN_SECONDS,
        }

    def generate_user_info(self, user: ProviderAccount, scope: str) -> UserInfo:
        return user_claims(user, scope)


def user_claims(user: ProviderAccount, scope: str) -> UserInfo:
    """The claims about ``user``: ``sub`` and ``personal_code`` always, names with
    ``profile``."""
    claims = UserInfo(sub=user.personal_code, personal_code=user.personal_code)
    if "profile" in scope.split():
        claims["given_name"] = user.given_names
        claims["family_name"] = user.family_name
        claims["name"] = f"{user.given_names} {user.family_name}"
    return claims


class EmbeddedProvider(AuthorizationServer):  # type: ignore[misc]  # Authlib is untyped
    """The provider for one HTTP request, storing in ``session``."""

    def __init__(self, session: Session, settings: Settings) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.session = session
        self.settings = settings
        self.issuer = settings.embedded_issuer
        self.key = provider_signing_key(settings)
        self.register_grant(CodeGrant, [RequiredS256(required=True), IdToken(self)])
        self.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: new_token(),
                expires_generator=lambda client, grant_type: ACCESS_TOKEN_SECONDS,
            ),
        )

    # --- Authlib's storage hooks ----------------------------------------------------------

    def query_client(self, client_id: str | None) -> RegisteredClient | None:
        if not client_id or len(client_id) > 100:
            return None
        base = self.settings.public_url.rstrip("/")
        if client_id == self.settings.oidc_client_id:
            return RegisteredClient(
                client_id=client_id,
                name="joinedup portal",
                redirect_uris=[base + CALLBACK_PATH],
                post_logout_redirect_uris=[base + SIGNED_OUT_PATH],
                secret=builtin_client_secret(self.settings),
            )
        row = self.session.scalar(
            select(ProviderClient).where(ProviderClient.client_id == client_id)
        )
        if row is None:
            return None
        return RegisteredClient(
            client_id=row.client_id,
            name=row.name,
            redirect_uris=list(row.redirect_uris),
            post_logout_redirect_uris=list(row.post_logout_redirect_uris),
            secret_hash=row.secret_hash,
        )

    def save_token(self, token: dict[str, Any], request: ProviderRequest) -> None:
        now = utcnow()
        code: IssuedCode = request.authorization_code
        self.session.add(
            TokenRow(
                token_hash=token_hash(token["access_token"]),
                authorization_id=code.row.id,
                client_id=request.client.client_id,
                account_id=request.user.id,
                scope=str(token.get("scope", ""))[:300],
                issued_at=now,
                expires_at=now + timedelta(seconds=int(token["expires_in"])),
                revoked_at=None,
            )
        )
        self.session.flush()

    def store_code(self, code: str, request: ProviderRequest) -> None:
        now = utcnow()
        self.session.execute(
            update(ProviderAuthorization)
            .where(ProviderAuthorization.id == request.authorization_id)
            .values(code_hash=token_hash(code), code_expires_at=now + CODE_LIFETIME)
        )

    def claim_code(self, code: str, client: RegisteredClient) -> IssuedCode | None:
        """The code's authorization, used up now; None if unknown, expired, another
        client's or used before — and a second use revokes the tokens of the first."""
        now = utcnow()
        row = self.session.scalar(
            select(ProviderAuthorization).where(ProviderAuthorization.code_hash == token_hash(code))
        )
        if row is None or row.client_id != client.client_id:
            return None
        claimed = self.session.execute(
            update(ProviderAuthorization)
            .where(
                ProviderAuthorization.id == row.id,
                ProviderAuthorization.code_used_at.is_(None),
            )
            .values(code_used_at=now)
        )
        if not getattr(claimed, "rowcount", 0):
            self.session.execute(  # RFC 6749 § 4.1.2: a replayed code revokes what it got
                update(TokenRow)
                .where(TokenRow.authorization_id == row.id, TokenRow.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            return None
        if row.code_expires_at is None or row.code_expires_at <= now:
            return None
        self.session.refresh(row)
        return IssuedCode(row=row)

    def nonce_used(self, client_id: str | None, nonce: str) -> bool:
        return (
            self.session.scalar(
                select(ProviderAuthorization.id).where(
                    ProviderAuthorization.client_id == (client_id or ""),
                    ProviderAuthorization.nonce_hash == token_hash(nonce),
                    ProviderAuthorization.code_hash.is_not(None),
                )
            )
            is not None
        )

    # --- the framework side (ours is none: the web layer turns tuples into responses) ------

    def create_oauth2_request(self, request: ProviderRequest) -> ProviderRequest:
        return request

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError("the embedded provider has no JSON endpoints of Authlib's")

    def handle_response(
        self, status: int, body: Any, headers: Sequence[tuple[str, str]]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signals: every change is in the database, in the request's transaction."""


def register_provider_client(
    session: Session,
    *,
    client_id: str,
    name: str,
    secret: str,
    redirect_uris: list[str],
    post_logout_redirect_uris: list[str],
    actor: str,
) -> str:
    """Register a relying party with the embedded provider. Writes one row; emits nothing.
    Returns the client id."""
    problems = []
    if not client_id or len(client_id) > 100:
        problems.append({"field": "client_id", "message": "must be 1 to 100 characters"})
    if len(secret) < 16:
        problems.append({"field": "secret", "message": "must have at least 16 characters"})
    if not redirect_uris or not all(u.startswith(("https://", "http://")) for u in redirect_uris):
        problems.append({"field": "redirect_uris", "message": "must be http(s) URLs"})
    if problems:
        raise ValidationFailed("the client cannot be registered", errors=problems)
    if session.scalar(select(ProviderClient.id).where(ProviderClient.client_id == client_id)):
        raise Conflict("a client with this id is registered")
    session.add(
        ProviderClient(
            client_id=client_id,
            name=name[:200],
            secret_hash=hash_credential(secret),
            redirect_uris=redirect_uris,
            post_logout_redirect_uris=post_logout_redirect_uris,
            created_at=utcnow(),
            created_by=actor[:100],
        )
    )
    session.flush()
    return client_id


def authorization_expired(row: ProviderAuthorization, now: datetime) -> bool:
    return row.expires_at <= now or row.code_hash is not None
