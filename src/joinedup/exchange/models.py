"""The exchange's member directory. Nobody outside the ``exchange`` context imports these.

A **member** is an organisation that takes part in the data exchange (X-Road's member): an
agency at national, regional or local level (class ``GOV``), a company (``COM``) or a voluntary
organisation (``NGO``), identified inside the federation by its class and code. A
**subsystem** is one information system a member runs; calls are made by and to subsystems.
Services and access rights hang off subsystems.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base


class Member(Base):
    __tablename__ = "exchange_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_class: Mapped[str] = mapped_column(String(10))
    member_code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(10))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("exchange_member.id"), index=True)
    #: Administrative codes of the area the member serves (regional and local members).
    region_code: Mapped[str | None] = mapped_column(String(8))
    municipality_code: Mapped[str | None] = mapped_column(String(8))
    registered_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint("member_class", "member_code"),
        CheckConstraint("member_class IN ('GOV', 'COM', 'NGO')", name="member_class"),
        CheckConstraint("level IN ('national', 'regional', 'local')", name="level"),
    )


class Subsystem(Base):
    __tablename__ = "exchange_subsystem"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("exchange_member.id"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    registered_at: Mapped[datetime]
    registered_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (UniqueConstraint("member_id", "code"),)


# --- services, access rights, API clients, keys ------------------------------------------------
#
# A **service** is published by a provider subsystem: either one of a base registry's queries
# run in-process (``registry``) or a member's own HTTP API described by an OpenAPI document
# (``rest``). An **access right** lets one client subsystem call one service, for the named
# fields and the named purposes (each with its legal basis), over a validity period. An **API
# client** is the OAuth 2.0 client (client credentials) a subsystem authenticates with. A
# **member key** signs the member's message-log records; the **token key** signs access tokens.


class Service(Base):
    __tablename__ = "exchange_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    subsystem_id: Mapped[int] = mapped_column(ForeignKey("exchange_subsystem.id"))
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))
    #: For ``registry`` services: the base registry whose query this is.
    registry_code: Mapped[str | None] = mapped_column(String(40))
    #: Every field the service can return (the names access rights are restricted to).
    fields: Mapped[list[str]] = mapped_column(JSON)
    #: Keep request and response bodies in the message log (else their hashes only).
    log_bodies: Mapped[bool] = mapped_column(Boolean)
    base_url: Mapped[str | None] = mapped_column(String(500))
    #: The OpenAPI document of a ``rest`` service, as registered (registry services' documents
    #: are built from their declaration).
    openapi: Mapped[dict[str, Any] | None]
    version: Mapped[str] = mapped_column(String(20))
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint("subsystem_id", "code"),
        CheckConstraint("kind IN ('registry', 'rest')", name="kind"),
        CheckConstraint(
            "kind = 'registry' OR (base_url IS NOT NULL AND openapi IS NOT NULL)", name="rest"
        ),
    )


class AccessRight(Base):
    """A client subsystem may call a service for some fields and purposes, from ``valid_from``
    until ``valid_to`` (exclusive; NULL: until revoked)."""

    __tablename__ = "exchange_access_right"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_subsystem_id: Mapped[int] = mapped_column(ForeignKey("exchange_subsystem.id"))
    service_id: Mapped[int] = mapped_column(ForeignKey("exchange_service.id"), index=True)
    fields: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    #: A right of a law-enforcement body: the person sees its use only after the delay.
    law_enforcement: Mapped[bool] = mapped_column(Boolean)
    disclosure_delay_days: Mapped[int | None]
    #: Only for data subjects who live in the client member's municipality.
    own_residents_only: Mapped[bool] = mapped_column(Boolean)
    granted_at: Mapped[datetime]
    granted_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    revocation_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_exchange_access_right_client", "client_subsystem_id", "service_id"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_period"),
        CheckConstraint(
            "disclosure_delay_days IS NULL OR disclosure_delay_days BETWEEN 0 AND 3650",
            name="disclosure_delay",
        ),
    )


class AccessRightPurpose(Base):
    """One purpose a right may be used for, and the law that allows it."""

    __tablename__ = "exchange_access_right_purpose"

    id: Mapped[int] = mapped_column(primary_key=True)
    right_id: Mapped[int] = mapped_column(ForeignKey("exchange_access_right.id"))
    purpose: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(String(500))
    legal_basis_url: Mapped[str | None] = mapped_column(String(500))
    #: GDPR Art. 6 (1): ``public_task``, ``legal_obligation``, ``consent``, …
    lawful_basis: Mapped[str] = mapped_column(String(30), server_default="public_task")
    #: With ``consent``: the consent register's data agreement the data subject consents to.
    data_agreement_id: Mapped[uuid.UUID | None]

    __table_args__ = (
        UniqueConstraint("right_id", "purpose"),
        CheckConstraint(
            "lawful_basis IN ('consent', 'contract', 'legal_obligation', 'vital_interest', "
            "'public_task', 'legitimate_interest')",
            name="lawful_basis",
        ),
        CheckConstraint(
            "(lawful_basis = 'consent') = (data_agreement_id IS NOT NULL)",
            name="consent_agreement",
        ),
    )


class Purpose(Base):
    """What a purpose code of the access rights means, in words a person understands, in
    each language the platform speaks (``{"en": …, "et": …}``): "Who used my data" shows it."""

    __tablename__ = "exchange_purpose"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    names: Mapped[dict[str, Any]] = mapped_column(JSON)
    described_at: Mapped[datetime]
    described_by: Mapped[str] = mapped_column(String(100))


class ApiClient(Base):
    """An OAuth 2.0 client (client credentials grant) bound to one subsystem.

    ``secret_hash`` is ``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64): the secret itself is
    shown once, when the client is created, and never stored.
    """

    __tablename__ = "exchange_api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    subsystem_id: Mapped[int] = mapped_column(ForeignKey("exchange_subsystem.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    secret_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    #: Consecutive failed sign-ins, and until when the client is locked out after too many.
    failed_attempts: Mapped[int]
    locked_until: Mapped[datetime | None]


class Administrator(Base):
    """A subsystem whose API clients may administer the exchange's directory and rights."""

    __tablename__ = "exchange_administrator"

    subsystem_id: Mapped[int] = mapped_column(ForeignKey("exchange_subsystem.id"), primary_key=True)
    appointed_at: Mapped[datetime]
    appointed_by: Mapped[str] = mapped_column(String(100))


class MemberKey(Base):
    """A member's Ed25519 key that signs its message-log records. The private key is kept
    encrypted (AES-GCM under a key derived from the platform's secret key)."""

    __tablename__ = "exchange_member_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("exchange_member.id"))
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    public_key_pem: Mapped[str] = mapped_column(Text)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "uq_exchange_member_key_active",
            "member_id",
            unique=True,
            sqlite_where=text("retired_at IS NULL"),
            postgresql_where=text("retired_at IS NULL"),
        ),
    )


class TokenKey(Base):
    """The platform's Ed25519 key that signs OAuth access tokens (kept like member keys)."""

    __tablename__ = "exchange_token_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    #: Always ``access-token``: the partial unique index allows one active key.
    use: Mapped[str] = mapped_column(String(20))
    public_key_pem: Mapped[str] = mapped_column(Text)
    private_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "uq_exchange_token_key_active",
            "use",
            unique=True,
            sqlite_where=text("retired_at IS NULL"),
            postgresql_where=text("retired_at IS NULL"),
        ),
    )


class DirectoryVersion(Base):
    """One row counting changes to services, rights and clients, so every process can tell
    cheaply whether its in-memory copy is stale (see :mod:`joinedup.exchange.directory`)."""

    __tablename__ = "exchange_directory_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger)


# The message log, data-usage and monitoring tables live in their own module (records.py);
# importing it here puts them in the metadata that migrations and tests load.
from joinedup.exchange import records as _records  # noqa: E402,F401
