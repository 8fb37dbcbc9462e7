"""The consent register's tables. Nobody outside the ``consent`` context imports them.

- ``consent_data_agreement``: one agreement of a controller (an exchange member), known to
  everyone by its ``agreement_id`` (a UUID). It names its current version and whether it is
  retired. A few columns of the current version are copied onto it (``current_version``,
  ``consents_from_version``) so the exchange's consent check is one indexed read.
- ``consent_data_agreement_version``: every published version, never changed: purpose, lawful
  basis, data items (exchange service fields), retention. ``revision_hash`` is the SHA-256 of
  its canonical bytes, which every consent given for it copies (GovStack's
  ``dataAgreementRevisionHash``). ``consents_from_version``: the oldest version whose consents
  still hold under this one (a version that asks for nothing more keeps them).
- ``consent_record``: one per data subject (personal code) and agreement, with its state now.
- ``consent_revision``: the record's history, appended only: each given or withdrawn, for which
  agreement version, by whom, when. Each revision carries the SHA-256 of its predecessor
  (``predecessor_hash``) and of its own canonical bytes (``serialized_hash``), a hash chain per
  record, and its transparency-log index: the log holds the revision's id and hash, never the
  personal code (see :mod:`joinedup.consent.chain`).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from joinedup.core.db import Base

_BIG_ID = BigInteger().with_variant(Integer(), "sqlite")
LAWFUL_BASES_SQL = (
    "'consent', 'contract', 'legal_obligation', 'vital_interest', 'public_task', "
    "'legitimate_interest'"
)


class DataAgreement(Base):
    __tablename__ = "consent_data_agreement"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    controller_member_class: Mapped[str] = mapped_column(String(10))
    controller_member_code: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    current_version: Mapped[int]
    #: ``consents_from_version`` of the current version (copied: the hot check reads one row).
    consents_from_version: Mapped[int]
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(100))
    retired_at: Mapped[datetime | None]
    retired_by: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint(
            "controller_member_class",
            "controller_member_code",
            "code",
            name="uq_consent_data_agreement_controller_code",
        ),
    )


class DataAgreementVersion(Base):
    __tablename__ = "consent_data_agreement_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_ref: Mapped[int] = mapped_column(
        ForeignKey(
            "consent_data_agreement.id", name="fk_consent_data_agreement_version_agreement_ref"
        )
    )
    version: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(String(2000))
    lawful_basis: Mapped[str] = mapped_column(String(30))
    #: ``[{"service": "CLASS/MEMBER/SUBSYSTEM/SERVICE", "field": "name"}, …]``
    data_items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    retention_days: Mapped[int]
    policy_url: Mapped[str | None] = mapped_column(String(500))
    consents_from_version: Mapped[int]
    revision_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(100))

    __table_args__ = (
        UniqueConstraint("agreement_ref", "version"),
        CheckConstraint(f"lawful_basis IN ({LAWFUL_BASES_SQL})", name="lawful_basis"),
        CheckConstraint("retention_days > 0", name="retention"),
        CheckConstraint(
            "consents_from_version >= 1 AND consents_from_version <= version", name="consents_from"
        ),
    )


class ConsentRecord(Base):
    __tablename__ = "consent_record"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    record_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    agreement_ref: Mapped[int] = mapped_column(ForeignKey("consent_data_agreement.id"))
    subject_code: Mapped[str] = mapped_column(String(32))
    #: ``given`` or ``withdrawn``: the action of the latest revision.
    state: Mapped[str] = mapped_column(String(10))
    #: The agreement version of the latest revision.
    version: Mapped[int]
    revisions: Mapped[int]
    #: ``serialized_hash`` of the latest revision: the head of the chain.
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("agreement_ref", "subject_code"),
        Index("ix_consent_record_subject", "subject_code", "id"),
        CheckConstraint("state IN ('given', 'withdrawn')", name="state"),
    )


class ConsentRevision(Base):
    __tablename__ = "consent_revision"

    id: Mapped[int] = mapped_column(_BIG_ID, primary_key=True, autoincrement=True)
    revision_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    record_ref: Mapped[int] = mapped_column(BigInteger, ForeignKey("consent_record.id"))
    seq: Mapped[int]
    action: Mapped[str] = mapped_column(String(10))
    agreement_version: Mapped[int]
    agreement_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    recorded_at: Mapped[datetime]
    #: The actor: ``person:<code>`` (through the portal) or ``client:<id>`` (an agency system).
    recorded_by: Mapped[str] = mapped_column(String(100))
    #: The data subject's personal code when the actor acted for them (not for themselves).
    acting_for: Mapped[str | None] = mapped_column(String(32))
    #: ``individual`` (the data subject), ``delegate`` (a person acting for them) or
    #: ``agency`` (an agency's system recorded the person's decision).
    signed_as: Mapped[str] = mapped_column(String(12))
    salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    predecessor_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    serialized_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    log_index: Mapped[int] = mapped_column(BigInteger, unique=True)

    __table_args__ = (
        UniqueConstraint("record_ref", "seq"),
        CheckConstraint("action IN ('given', 'withdrawn')", name="action"),
        CheckConstraint("signed_as IN ('individual', 'delegate', 'agency')", name="signed_as"),
    )
