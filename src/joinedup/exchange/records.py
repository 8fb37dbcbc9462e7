"""Tables of what the exchange records about each mediated call. Nobody outside ``exchange``
imports them.

- ``exchange_message``: the **message log**. One row per mediated call, refused calls too:
  who called which service, for whom and why, the outcome, SHA-512 hashes of the request and
  the bodies (the bodies themselves only when the service asks for it), and the Ed25519
  signatures of the client's and the provider's members over the record's canonical bytes.
- ``exchange_data_usage``: one row per data subject whose data a call (or a back-office view)
  disclosed: the person's "who used my data" record, Estonia's Data Tracker ``Usage``.
- ``exchange_call``: **operational monitoring**, one row per call (timings, sizes, outcome).
  Not part of the transparency log: it is operational data with its own retention.

Message-log and data-usage rows are append-only and each is committed to the transparency log
(``log_index``): the leaf commits to the record's canonical bytes (see
:mod:`joinedup.exchange.canonical`), so rewriting or deleting a row is detected by
``joinedup log verify``. There are no foreign keys: a record must outlive changes to the
directory, and it carries the identifiers as they were when the call happened.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")


class MessageLogRecord(Base):
    __tablename__ = "exchange_message"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    record_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    logged_at: Mapped[datetime] = mapped_column(index=True)
    message_id: Mapped[str] = mapped_column(String(128), index=True)
    client_xroad_id: Mapped[str] = mapped_column(String(300))
    service_xroad_id: Mapped[str] = mapped_column(String(400), index=True)
    client_member_id: Mapped[int | None]
    provider_member_id: Mapped[int | None]
    user_id: Mapped[str | None] = mapped_column(String(64))
    issue: Mapped[str | None] = mapped_column(String(300))
    represented_party: Mapped[str | None] = mapped_column(String(300))
    purpose: Mapped[str | None] = mapped_column(String(100))
    legal_basis: Mapped[str | None] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(10))
    path_template: Mapped[str] = mapped_column(String(1000))
    status: Mapped[int]
    error_type: Mapped[str | None] = mapped_column(String(100))
    duration_us: Mapped[int] = mapped_column(BigInteger)
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(64))
    request_body_hash: Mapped[bytes] = mapped_column(LargeBinary(64))
    response_body_hash: Mapped[bytes] = mapped_column(LargeBinary(64))
    request_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    client_key_id: Mapped[str | None] = mapped_column(String(64))
    client_signature: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    provider_key_id: Mapped[str | None] = mapped_column(String(64))
    provider_signature: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    #: The batch the signatures are of: index (4 bytes), size (4 bytes), audit path.
    signature_proof: Mapped[bytes | None] = mapped_column(LargeBinary)
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class DataUsageRecord(Base):
    __tablename__ = "exchange_data_usage"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    record_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    logged_at: Mapped[datetime]
    subject_code: Mapped[str] = mapped_column(String(32))
    #: ``exchange`` (a mediated call) or ``backoffice`` (a staff member viewed the person).
    channel: Mapped[str] = mapped_column(String(16))
    receiver_member_class: Mapped[str] = mapped_column(String(10))
    receiver_member_code: Mapped[str] = mapped_column(String(64))
    receiver_member_name: Mapped[str] = mapped_column(String(300))
    receiver_system: Mapped[str | None] = mapped_column(String(300))
    service_xroad_id: Mapped[str | None] = mapped_column(String(400))
    action: Mapped[str] = mapped_column(String(500))
    fields: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(100))
    legal_basis: Mapped[str] = mapped_column(String(300))
    case_reference: Mapped[str | None] = mapped_column(String(300))
    user_id: Mapped[str | None] = mapped_column(String(64))
    represented_party: Mapped[str | None] = mapped_column(String(300))
    message_id: Mapped[str | None] = mapped_column(String(128))
    law_enforcement: Mapped[bool] = mapped_column(Boolean)
    hidden_until: Mapped[date | None]
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)

    __table_args__ = (
        Index("ix_exchange_data_usage_subject", "subject_code", "logged_at", "id"),
        Index("ix_exchange_data_usage_receiver", "receiver_member_code", "logged_at"),
        # who received a person's data: one step down the index per receiver
        Index(
            "ix_exchange_data_usage_subject_receiver",
            "subject_code",
            "receiver_member_code",
            "hidden_until",
        ),
    )


class CallRecord(Base):
    __tablename__ = "exchange_call"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime]
    message_id: Mapped[str] = mapped_column(String(128))
    client_xroad_id: Mapped[str] = mapped_column(String(300))
    service_xroad_id: Mapped[str] = mapped_column(String(400))
    method: Mapped[str] = mapped_column(String(10))
    status: Mapped[int]
    succeeded: Mapped[bool] = mapped_column(Boolean)
    error_type: Mapped[str | None] = mapped_column(String(100))
    total_us: Mapped[int] = mapped_column(BigInteger)
    authorization_us: Mapped[int] = mapped_column(BigInteger)
    provider_us: Mapped[int] = mapped_column(BigInteger)
    request_size: Mapped[int]
    response_size: Mapped[int]

    __table_args__ = (Index("ix_exchange_call_service", "service_xroad_id", "id"),)


class WriteRequest(Base):
    """A request to one of the registries' write services (civil registration), kept so that
    the caller's ``reference`` is idempotent: one per client subsystem and reference, with the
    answer given, which a repeated request receives again.

    It is written in the same transaction as the registration, so either both exist or neither
    (a refused request leaves none, and may be sent again once corrected)."""

    __tablename__ = "exchange_write_request"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    #: The exchange's id of the registration (``registrationId`` in the answer).
    registration_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    client_subsystem_id: Mapped[int]
    reference: Mapped[str] = mapped_column(String(100))
    service_xroad_id: Mapped[str] = mapped_column(String(400))
    #: SHA-256 of the request body's canonical JSON (sorted keys, no whitespace).
    body_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    status: Mapped[int]
    response_body: Mapped[bytes] = mapped_column(LargeBinary)
    #: Personal codes of the persons the registration changed (comma-separated): a replayed
    #: answer records their data usage again.
    data_subjects: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("client_subsystem_id", "reference"),)
