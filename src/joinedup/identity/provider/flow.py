"""The embedded provider's steps, as the web layer drives them.

1. :func:`begin_authorization` — Authlib validates the authorization request (client,
   redirect URI, PKCE, nonce, scope); it is kept under a random *handle* the sign-in pages
   carry, with a CSRF token for their forms.
2. :func:`sign_in_with_password`, :func:`sign_in_with_code`, :func:`sign_in_with_card` —
   the person authenticates by a means whose level meets the one asked for (``acr_values``);
   failures are throttled per account, per factor and per address (the rule is in
   :mod:`joinedup.identity.service.throttling`). Each step checks the throttle, verifies and
   records its outcome in one transaction (on PostgreSQL the check locks the account until
   it commits).
3. :func:`finish` — Authlib issues the code and the browser goes back to the client.

Then the client calls :func:`token_response` (code → tokens) and :func:`userinfo`; signing
out goes through :func:`end_session`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from joinedup.core.clock import utcnow
from joinedup.core.errors import NotFound, Unauthenticated, ValidationFailed
from joinedup.core.settings import Settings
from joinedup.identity.models import ProviderAccount, ProviderAuthorization
from joinedup.identity.models import ProviderToken as TokenRow
from joinedup.identity.provider.accounts import (
    MEANS,
    account_named,
    card_holder,
    check_one_time_code,
    find_account,
    password_matches,
    pin_matches,
)
from joinedup.identity.provider.keys import ALGORITHM, provider_signing_key
from joinedup.identity.provider.server import (
    AUTH_METHODS,
    SCOPES,
    EmbeddedProvider,
    ProviderRequest,
    user_claims,
)
from joinedup.identity.schemas import LevelOfAssurance
from joinedup.identity.service.credentials import new_token, token_hash, well_formed_code
from joinedup.identity.service.throttling import (
    SignInFactor,
    ThrottlePolicy,
    check_sign_in_allowed,
    clear_sign_in_failures,
    record_sign_in_failure,
)

AUTHORIZATION_LIFETIME = timedelta(minutes=15)
Answer = tuple[int, Any, list[tuple[str, str]]]


def minimum_level(acr_values: str | None) -> LevelOfAssurance:
    """The level to authenticate at: the lowest known level among ``acr_values`` (any of
    them satisfies the client), low when none is asked for."""
    levels = [LevelOfAssurance.from_acr(v) for v in (acr_values or "").split()]
    known = [level for level in levels if level is not None]
    return min(known, key=lambda level: level.rank) if known else LevelOfAssurance.LOW


def begin_authorization(session: Session, settings: Settings, request: ProviderRequest) -> str:
    """Validate an authorization request and keep it; returns its handle. An invalid
    request is an ``OAuth2Error`` (with ``redirect_uri`` set when the error may be sent to
    the client, RFC 6749 § 4.1.2.1). Writes one row."""
    provider = EmbeddedProvider(session, settings)
    provider.get_consent_grant(request)  # raises OAuth2Error
    handle = new_token()
    now = utcnow()
    data = dict(request.payload.data)
    session.add(
        ProviderAuthorization(
            id=token_hash(handle),
            client_id=data["client_id"],
            parameters=data,
            csrf_token=new_token(),
            minimum_level=str(minimum_level(data.get("acr_values"))),
            pending_account_id=None,
            created_at=now,
            expires_at=now + AUTHORIZATION_LIFETIME,
            code_hash=None,
            code_expires_at=None,
            code_used_at=None,
            account_id=None,
            level_of_assurance=None,
            methods=None,
            authenticated_at=None,
            nonce_hash=token_hash(str(data["nonce"])) if data.get("nonce") else None,
        )
    )
    session.flush()
    return handle


def error_answer(
    session: Session, settings: Settings, request: ProviderRequest, error: OAuth2Error
) -> Answer:
    """The OAuth error response (a redirect to the client, or a JSON body)."""
    return EmbeddedProvider(session, settings).handle_error_response(request, error)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class PendingAuthorization:
    handle: str
    client_id: str
    minimum_level: LevelOfAssurance
    csrf_token: str
    awaiting_code: bool
    redirect_uri: str
    state: str | None


def pending_authorization(session: Session, *, handle: str) -> PendingAuthorization:
    """The authorization waiting for sign-in under ``handle`` (``NotFound`` if there is none,
    it expired or a code was issued for it)."""
    row = _row(session, handle)
    return PendingAuthorization(
        handle=handle,
        client_id=row.client_id,
        minimum_level=LevelOfAssurance(row.minimum_level),
        csrf_token=row.csrf_token,
        awaiting_code=row.pending_account_id is not None,
        redirect_uri=str(row.parameters.get("redirect_uri", "")),
        state=row.parameters.get("state"),
    )


def _row(session: Session, handle: str) -> ProviderAuthorization:
    row = session.get(ProviderAuthorization, token_hash(handle)) if 0 < len(handle) < 200 else None
    if row is None or row.expires_at <= utcnow() or row.code_hash is not None:
        raise NotFound(
            "This sign-in has expired or was completed: go back to the service and start again."
        )
    return row


def check_csrf(pending: PendingAuthorization, token: str | None) -> None:
    if not token or not hmac.compare_digest(token.encode(), pending.csrf_token.encode()):
        raise ValidationFailed(
            "The form has expired: start again.",
            errors=[{"field": "csrf_token", "message": "does not match"}],
        )


class SignInFailed(Exception):
    """Wrong credentials (the page says so without saying which part was wrong)."""


def _means_allowed(
    row: ProviderAuthorization, means: str
) -> tuple[LevelOfAssurance, tuple[str, ...]]:
    if means not in MEANS:
        raise ValidationFailed(
            "Choose how to sign in.", errors=[{"field": "means", "message": "unknown means"}]
        )
    level, methods = MEANS[means]
    if not level.at_least(LevelOfAssurance(row.minimum_level)):
        raise ValidationFailed(
            "The service asks for a stronger means of signing in.",
            errors=[{"field": "means", "message": "below the level asked for"}],
        )
    return level, methods


def sign_in_with_password(
    session: Session,
    settings: Settings,
    *,
    handle: str,
    means: str,
    username: str,
    password: str,
    address: str | None,
    policy: ThrottlePolicy,
) -> Answer | None:
    """First (or only) step. Returns the redirect back to the client when the means is a
    password alone; None when the one-time code is asked next. ``SignInFailed`` on wrong
    credentials, ``TooManyAttempts`` when throttled."""
    row = _row(session, handle)
    if means not in ("password", "password-otp"):
        raise ValidationFailed(
            "Choose how to sign in.", errors=[{"field": "means", "message": "unknown means"}]
        )
    _means_allowed(row, means)
    account = account_named(session, username=username)
    account_id = account.id if account is not None else None
    check_sign_in_allowed(
        session, account=username, account_id=account_id, address=address, policy=policy
    )
    if not password_matches(account, password) or account is None:
        record_sign_in_failure(
            session, account=username, account_id=account_id, address=address, policy=policy
        )
        raise SignInFailed
    if means == "password":
        # Only the password's failures: a low-level sign-in never resets the count of
        # guesses at the one-time code or the PIN.
        clear_sign_in_failures(session, account_id=account.id, factors=[SignInFactor.PASSWORD])
        return finish(session, settings, row=row, account=account, means=means)
    session.execute(
        update(ProviderAuthorization)
        .where(ProviderAuthorization.id == row.id)
        .values(pending_account_id=account.id)
    )
    return None


def sign_in_with_code(
    session: Session,
    settings: Settings,
    *,
    handle: str,
    code: str,
    address: str | None,
    policy: ThrottlePolicy,
) -> Answer:
    """Second step of ``password-otp``: the one-time code of the account that gave its
    password in this authorization. A code that already signed the account in is refused
    like a wrong one; so is one that is not six ASCII digits, without being counted (it is
    no guess)."""
    row = _row(session, handle)
    account = (
        find_account(session, account_id=row.pending_account_id) if row.pending_account_id else None
    )
    if account is None:
        raise NotFound("Give your user name and password first.")
    check_sign_in_allowed(
        session,
        account=account.username,
        account_id=account.id,
        address=address,
        policy=policy,
        factor=SignInFactor.ONE_TIME_CODE,
    )
    if well_formed_code(code) is None:
        raise SignInFailed
    if not check_one_time_code(session, account, code):
        record_sign_in_failure(
            session,
            account=account.username,
            account_id=account.id,
            address=address,
            policy=policy,
            factor=SignInFactor.ONE_TIME_CODE,
        )
        raise SignInFailed
    clear_sign_in_failures(
        session, account_id=account.id, factors=[SignInFactor.PASSWORD, SignInFactor.ONE_TIME_CODE]
    )
    return finish(session, settings, row=row, account=account, means="password-otp")


def sign_in_with_card(
    session: Session,
    settings: Settings,
    *,
    handle: str,
    personal_code: str,
    pin: str,
    address: str | None,
    policy: ThrottlePolicy,
) -> Answer:
    """The simulated eID card: the card's personal code and its PIN1. Throttled by the
    card holder's account, so an account locked by wrong passwords takes no PIN either."""
    row = _row(session, handle)
    _means_allowed(row, "card")
    account = card_holder(session, personal_code=personal_code)
    account_id = account.id if account is not None else None
    check_sign_in_allowed(
        session,
        account=personal_code,
        account_id=account_id,
        address=address,
        policy=policy,
        factor=SignInFactor.PIN,
    )
    if not pin_matches(account, pin) or account is None:
        record_sign_in_failure(
            session,
            account=personal_code,
            account_id=account_id,
            address=address,
            policy=policy,
            factor=SignInFactor.PIN,
        )
        raise SignInFailed
    clear_sign_in_failures(session, account_id=account.id, factors=[SignInFactor.PIN])
    return finish(session, settings, row=row, account=account, means="card")


def finish(
    session: Session,
    settings: Settings,
    *,
    row: ProviderAuthorization,
    account: ProviderAccount,
    means: str,
) -> Answer:
    """Record who authenticated and how, then let Authlib issue the code: the answer is the
    redirect back to the client (with ``code`` and ``state``)."""
    level, methods = _means_allowed(row, means)
    session.execute(
        update(ProviderAuthorization)
        .where(ProviderAuthorization.id == row.id)
        .values(
            account_id=account.id,
            level_of_assurance=str(level),
            methods=" ".join(methods),
            authenticated_at=utcnow(),
            pending_account_id=None,
        )
    )
    provider = EmbeddedProvider(session, settings)
    request = ProviderRequest(
        method="GET",
        uri=settings.embedded_issuer.replace("http://", "https://", 1) + "/authorize",
        headers={},
        query=[(k, str(v)) for k, v in row.parameters.items()],
    )
    request.authorization_id = row.id
    grant = provider.get_consent_grant(request, end_user=account)
    answer: Answer = provider.create_authorization_response(
        request, grant_user=account, grant=grant
    )
    return answer


def token_response(session: Session, settings: Settings, request: ProviderRequest) -> Answer:
    """The token endpoint's answer (tokens, or an RFC 6749 error)."""
    answer: Answer = EmbeddedProvider(session, settings).create_token_response(request)
    return answer


def userinfo(session: Session, *, access_token: str) -> dict[str, Any]:
    """The claims an access token may read (``Unauthenticated`` if it is not valid)."""
    now = utcnow()
    row = session.scalar(select(TokenRow).where(TokenRow.token_hash == token_hash(access_token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthenticated("The access token is not valid.", error="invalid_token")
    account = session.get(ProviderAccount, row.account_id)
    if account is None or account.disabled_at is not None:
        raise Unauthenticated("The access token is not valid.", error="invalid_token")
    return dict(user_claims(account, row.scope))


def end_session(
    session: Session,
    settings: Settings,
    *,
    id_token_hint: str | None,
    post_logout_redirect_uri: str | None,
    state: str | None,
) -> str | None:
    """RP-initiated logout: revokes the access tokens the hinted sign-in got, and returns
    where to send the browser (a redirect URI registered for the token's client, with
    ``state``), or None to show the provider's own signed-out page."""
    if not id_token_hint:
        return None
    try:
        token = jwt.decode(id_token_hint, provider_signing_key(settings), algorithms=[ALGORITHM])
    except (JoseError, ValueError):
        return None
    claims = token.claims
    if claims.get("iss") != settings.embedded_issuer:
        return None
    audience = claims.get("aud")
    client_id = audience[0] if isinstance(audience, list) and audience else audience
    provider = EmbeddedProvider(session, settings)
    client = provider.query_client(str(client_id)) if client_id else None
    account = session.scalar(
        select(ProviderAccount).where(ProviderAccount.personal_code == str(claims.get("sub", "")))
    )
    if client is not None and account is not None:
        session.execute(
            update(TokenRow)
            .where(
                TokenRow.client_id == client.client_id,
                TokenRow.account_id == account.id,
                TokenRow.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )
    if (
        client is None
        or not post_logout_redirect_uri
        or post_logout_redirect_uri not in client.post_logout_redirect_uris
    ):
        return None
    return post_logout_redirect_uri + (("?" + urlencode({"state": state})) if state else "")


def discovery_document(settings: Settings) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 metadata of the embedded provider."""
    issuer = settings.embedded_issuer
    return {
        "issuer": issuer,
        "authorization_endpoint": issuer + "/authorize",
        "token_endpoint": issuer + "/token",
        "userinfo_endpoint": issuer + "/userinfo",
        "jwks_uri": issuer + "/jwks",
        "end_session_endpoint": issuer + "/end-session",
        "scopes_supported": list(SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [level.acr for level in LevelOfAssurance],
        "claims_supported": [
            "sub",
            "personal_code",
            "given_name",
            "family_name",
            "name",
            "acr",
            "amr",
            "auth_time",
            "nonce",
        ],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "service_documentation": settings.public_url.rstrip("/") + "/api/docs",
        "ui_locales_supported": ["en", "et"],
    }
