"""consent register; lawful basis of access-right purposes; civil-registration requests

Revision ID: 0006
Revises: 0005

- consent_data_agreement, consent_data_agreement_version: data agreements of exchange members
  (purpose, lawful basis, data items, retention), every version kept with its hash.
- consent_record, consent_revision: one consent per data subject and agreement; its revisions
  (given, withdrawn) hash-chained and indexed into the transparency log.
- exchange_access_right_purpose: the purpose's lawful basis (existing purposes: public_task)
  and, for consent, the data agreement consented to.
- exchange_write_request: requests to the registries' write services (civil registration),
  unique per client subsystem and reference, with the answer a repeated request receives.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LAWFUL_BASES = (
    "'consent', 'contract', 'legal_obligation', 'vital_interest', 'public_task', "
    "'legitimate_interest'"
)


def upgrade() -> None:
    op.create_table(
        "consent_data_agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("controller_member_class", sa.String(length=10), nullable=False),
        sa.Column("controller_member_code", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("consents_from_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("retired_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_data_agreement")),
        sa.UniqueConstraint("agreement_id", name=op.f("uq_consent_data_agreement_agreement_id")),
        sa.UniqueConstraint(
            "controller_member_class",
            "controller_member_code",
            "code",
            name=op.f("uq_consent_data_agreement_controller_code"),
        ),
    )
    op.create_table(
        "consent_data_agreement_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_ref", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("purpose", sa.String(length=2000), nullable=False),
        sa.Column("lawful_basis", sa.String(length=30), nullable=False),
        sa.Column("data_items", sa.JSON(), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("policy_url", sa.String(length=500), nullable=True),
        sa.Column("consents_from_version", sa.Integer(), nullable=False),
        sa.Column("revision_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            f"lawful_basis IN ({_LAWFUL_BASES})",
            name=op.f("ck_consent_data_agreement_version_lawful_basis"),
        ),
        sa.CheckConstraint(
            "consents_from_version >= 1 AND consents_from_version <= version",
            name=op.f("ck_consent_data_agreement_version_consents_from"),
        ),
        sa.CheckConstraint(
            "retention_days > 0", name=op.f("ck_consent_data_agreement_version_retention")
        ),
        sa.ForeignKeyConstraint(
            ["agreement_ref"],
            ["consent_data_agreement.id"],
            name=op.f("fk_consent_data_agreement_version_agreement_ref"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_data_agreement_version")),
        sa.UniqueConstraint(
            "agreement_ref",
            "version",
            name=op.f("uq_consent_data_agreement_version_agreement_ref_version"),
        ),
    )
    op.create_table(
        "consent_record",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("agreement_ref", sa.Integer(), nullable=False),
        sa.Column("subject_code", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("revisions", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('given', 'withdrawn')", name=op.f("ck_consent_record_state")),
        sa.ForeignKeyConstraint(
            ["agreement_ref"],
            ["consent_data_agreement.id"],
            name=op.f("fk_consent_record_agreement_ref_consent_data_agreement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_record")),
        sa.UniqueConstraint(
            "agreement_ref",
            "subject_code",
            name=op.f("uq_consent_record_agreement_ref_subject_code"),
        ),
        sa.UniqueConstraint("record_id", name=op.f("uq_consent_record_record_id")),
    )
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.create_index("ix_consent_record_subject", ["subject_code", "id"], unique=False)

    op.create_table(
        "consent_revision",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("revision_id", sa.Uuid(), nullable=False),
        sa.Column("record_ref", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("agreement_version", sa.Integer(), nullable=False),
        sa.Column("agreement_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=100), nullable=False),
        sa.Column("acting_for", sa.String(length=32), nullable=True),
        sa.Column("signed_as", sa.String(length=12), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=16), nullable=False),
        sa.Column("predecessor_hash", sa.LargeBinary(length=32), nullable=True),
        sa.Column("serialized_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "action IN ('given', 'withdrawn')", name=op.f("ck_consent_revision_action")
        ),
        sa.CheckConstraint(
            "signed_as IN ('individual', 'delegate', 'agency')",
            name=op.f("ck_consent_revision_signed_as"),
        ),
        sa.ForeignKeyConstraint(
            ["record_ref"],
            ["consent_record.id"],
            name=op.f("fk_consent_revision_record_ref_consent_record"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_revision")),
        sa.UniqueConstraint("log_index", name=op.f("uq_consent_revision_log_index")),
        sa.UniqueConstraint("record_ref", "seq", name=op.f("uq_consent_revision_record_ref_seq")),
        sa.UniqueConstraint("revision_id", name=op.f("uq_consent_revision_revision_id")),
    )
    op.create_table(
        "exchange_write_request",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("registration_id", sa.Uuid(), nullable=False),
        sa.Column("client_subsystem_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=100), nullable=False),
        sa.Column("service_xroad_id", sa.String(length=400), nullable=False),
        sa.Column("body_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("response_body", sa.LargeBinary(), nullable=False),
        sa.Column("data_subjects", sa.Text(), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_write_request")),
        sa.UniqueConstraint(
            "client_subsystem_id",
            "reference",
            name=op.f("uq_exchange_write_request_client_subsystem_id_reference"),
        ),
        sa.UniqueConstraint(
            "registration_id", name=op.f("uq_exchange_write_request_registration_id")
        ),
    )
    with op.batch_alter_table("exchange_access_right_purpose", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "lawful_basis", sa.String(length=30), server_default="public_task", nullable=False
            )
        )
        batch_op.add_column(sa.Column("data_agreement_id", sa.Uuid(), nullable=True))
        batch_op.create_check_constraint(
            "lawful_basis", sa.text(f"lawful_basis IN ({_LAWFUL_BASES})")
        )
        batch_op.create_check_constraint(
            "consent_agreement",
            sa.text("(lawful_basis = 'consent') = (data_agreement_id IS NOT NULL)"),
        )


def downgrade() -> None:
    with op.batch_alter_table("exchange_access_right_purpose", schema=None) as batch_op:
        batch_op.drop_constraint("consent_agreement", type_="check")
        batch_op.drop_constraint("lawful_basis", type_="check")
        batch_op.drop_column("data_agreement_id")
        batch_op.drop_column("lawful_basis")
    op.drop_table("exchange_write_request")
    op.drop_table("consent_revision")
    with op.batch_alter_table("consent_record", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_record_subject")
    op.drop_table("consent_record")
    op.drop_table("consent_data_agreement_version")
    op.drop_table("consent_data_agreement")
