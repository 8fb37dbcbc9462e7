"""The identity context's tables. Nobody outside the ``identity`` context imports these.

Three groups:

- **joinedup's own sign-in**: web sessions (server-side rows referenced by a cookie), sign-in
  requests in flight to the OpenID Connect provider (state, nonce, PKCE verifier), failed
  sign-in attempts (throttling shared by every process), staff roles per organisation, and
  powers of attorney. Parents' and business representatives' mandates are *not* stored: they
  are derived from the registries through the exchange when used.
- **the embedded OpenID Connect provider** (``idp_*``): its demo accounts with their
  credentials, registered relying parties, authorization requests waiting for the person to
  authenticate, authorization codes and access tokens.

Secrets (session tokens, codes, access tokens, client secrets, passwords) are stored only as
hashes: a copy of the database lets nobody sign in as anyone.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base

_CODE = 20  # a personal code (11 digits) or a business registration code (8), with room


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; the row is keyed by its SHA-256,
    so the table alone lets nobody take over a session."""

    __tablename__ = "identity_web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of the token
    personal_code: Mapped[str] = mapped_column(String(_CODE), index=True)
    given_names: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    level_of_assurance: Mapped[str] = mapped_column(String(12))
    methods: Mapped[str] = mapped_column(String(100))  # the provider's ``amr``, space separated
    issuer: Mapped[str] = mapped_column(String(300))
    #: The ID token the provider issued, kept only as the ``id_token_hint`` of sign-out.
    id_token: Mapped[str] = mapped_column(Text)
    csrf_secret: Mapped[str] = mapped_column(String(64))
    authenticated_at: Mapped[datetime]
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(30))
    #: Whom the person acts for: None for themselves, else a person's or business's code.
    acting_for: Mapped[str | None] = mapped_column(String(_CODE))
    acting_for_name: Mapped[str | None] = mapped_column(String(300))
    acting_for_kind: Mapped[str | None] = mapped_column(String(20))
    #: When the derived mandate behind ``acting_for`` was last confirmed through the exchange.
    acting_checked_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint(
            "level_of_assurance IN ('low', 'substantial', 'high')", name="level_of_assurance"
        ),
    )


class SignInRequest(Base):
    """A sign-in sent to the OpenID Connect provider and not yet come back. Bound to the
    browser that started it (a cookie holding ``binding``'s preimage), so a callback carrying
    someone else's ``state`` is refused (login CSRF)."""

    __tablename__ = "identity_sign_in_request"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of ``state``
    binding: Mapped[str] = mapped_column(String(64))  # SHA-256 hex of the browser's cookie
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(128))
    minimum_level: Mapped[str] = mapped_column(String(12))
    return_to: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    used_at: Mapped[datetime | None]


class SignInFailure(Base):
    """One failed sign-in, counted per account and per client address within a window."""

    __tablename__ = "identity_sign_in_failure"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))  # ``account`` or ``address``
    key: Mapped[str] = mapped_column(String(64))  # SHA-256 hex: no personal code, no address
    failed_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("scope IN ('account', 'address')", name="scope"),
        Index("ix_identity_sign_in_failure_scope_key_failed_at", "scope", "key", "failed_at"),
    )


class StaffRole(Base):
    """A person's role in an organisation (an exchange member), granted by that organisation."""

    __tablename__ = "identity_staff_role"

    id: Mapped[int] = mapped_column(primary_key=True)
    personal_code: Mapped[str] = mapped_column(String(_CODE), index=True)
    member_class: Mapped[str] = mapped_column(String(10))
    member_code: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(30))
    granted_at: Mapped[datetime]
    granted_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint(
            "role IN ('caseworker', 'supervisor', 'administrator', 'analyst')", name="role"
        ),
        Index(
            "uq_identity_staff_role_current",
            "personal_code",
            "member_class",
            "member_code",
            "role",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


class PowerOfAttorney(Base):
    """A person (the grantor) lets another (the grantee) act for them, for named services
    and data categories or for everything, from one day until another (or until revoked)."""

    __tablename__ = "identity_power_of_attorney"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The public reference (in URLs): random, so a reference says nothing about others.
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    grantor_code: Mapped[str] = mapped_column(String(_CODE), index=True)
    grantee_code: Mapped[str] = mapped_column(String(_CODE), index=True)
    #: The parties' names when it was granted, as a signed paper would carry them.
    grantor_name: Mapped[str] = mapped_column(String(300))
    grantee_name: Mapped[str] = mapped_column(String(300))
    everything: Mapped[bool] = mapped_column(Boolean)
    services: Mapped[list[str]] = mapped_column(JSON)
    data_categories: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)  # the last day it holds
    granted_at: Mapped[datetime]
    granted_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        CheckConstraint("grantor_code <> grantee_code", name="not_self"),
        CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="period"),
    )


# --- the embedded OpenID Connect provider -----------------------------------------------------


class ProviderAccount(Base):
    """A demo account of the embedded provider: who it is (as an eID would know them) and
    the credentials of each means of authentication (all hashed)."""

    __tablename__ = "idp_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    personal_code: Mapped[str] = mapped_column(String(_CODE), unique=True)
    given_names: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    #: The base32 secret of the account's one-time-code app (RFC 6238), sealed with a key
    #: derived from ``JOINEDUP_SECRET_KEY``.
    otp_secret: Mapped[str] = mapped_column(String(200))
    #: The RFC 6238 time step of the last one-time code that signed the account in: a code
    #: is accepted once (RFC 6238 § 5.2), so only a later step's code is accepted next.
    otp_last_step: Mapped[int | None]
    pin_hash: Mapped[str] = mapped_column(String(200))  # the simulated eID card's PIN1
    description: Mapped[str] = mapped_column(String(300))
    tags: Mapped[list[str]] = mapped_column(JSON)
    #: For demo accounts: the seed their (published) credentials are derived from.
    demo_seed: Mapped[int | None]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    disabled_at: Mapped[datetime | None]


class ProviderClient(Base):
    """A relying party registered with the embedded provider."""

    __tablename__ = "idp_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))


class ProviderAuthorization(Base):
    """An authorization request waiting for the person to authenticate (the sign-in pages
    carry its random id), then the authorization code issued for it (hashed), used once."""

    __tablename__ = "idp_authorization"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 hex of the handle
    client_id: Mapped[str] = mapped_column(String(100))
    #: The validated request parameters (redirect_uri, scope, state, nonce, code_challenge,
    #: acr_values …), replayed to Authlib when the person has authenticated.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    csrf_token: Mapped[str] = mapped_column(String(64))
    minimum_level: Mapped[str] = mapped_column(String(12))
    #: Who passed the first factor of a two-step means (password, then one-time code).
    pending_account_id: Mapped[int | None]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime | None]
    code_used_at: Mapped[datetime | None]
    account_id: Mapped[int | None]
    level_of_assurance: Mapped[str | None] = mapped_column(String(12))
    methods: Mapped[str | None] = mapped_column(String(100))
    authenticated_at: Mapped[datetime | None]
    #: SHA-256 hex of the request's ``nonce``: a nonce's reuse is looked up by index (it was
    #: found in the JSON parameters, by scanning every authorization ever made).
    nonce_hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_idp_authorization_client_nonce", "client_id", "nonce_hash"),)


class ProviderToken(Base):
    """An access token the provider issued (for ``userinfo``), hashed."""

    __tablename__ = "idp_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    authorization_id: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(100))
    account_id: Mapped[int]
    scope: Mapped[str] = mapped_column(String(300))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
