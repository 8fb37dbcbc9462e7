"""exchange: message log, data usage, operational monitoring

Revision ID: 0004
Revises: 0003

- exchange_message: the signed message log, one row per mediated call (refusals too), with
  its transparency-log index.
- exchange_data_usage: one row per data subject whose data a call or a back-office view
  disclosed, with its transparency-log index.
- exchange_call: operational monitoring, one row per call (timings, sizes, outcome).
No foreign keys: records outlive changes to the directory.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_call",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("client_xroad_id", sa.String(length=300), nullable=False),
        sa.Column("service_xroad_id", sa.String(length=400), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("error_type", sa.String(length=100), nullable=True),
        sa.Column("total_us", sa.BigInteger(), nullable=False),
        sa.Column("authorization_us", sa.BigInteger(), nullable=False),
        sa.Column("provider_us", sa.BigInteger(), nullable=False),
        sa.Column("request_size", sa.Integer(), nullable=False),
        sa.Column("response_size", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_call")),
    )
    with op.batch_alter_table("exchange_call", schema=None) as batch_op:
        batch_op.create_index("ix_exchange_call_service", ["service_xroad_id", "id"], unique=False)

    op.create_table(
        "exchange_data_usage",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=16), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_code", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("receiver_member_class", sa.String(length=10), nullable=False),
        sa.Column("receiver_member_code", sa.String(length=64), nullable=False),
        sa.Column("receiver_member_name", sa.String(length=300), nullable=False),
        sa.Column("receiver_system", sa.String(length=300), nullable=True),
        sa.Column("service_xroad_id", sa.String(length=400), nullable=True),
        sa.Column("action", sa.String(length=500), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("case_reference", sa.String(length=300), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("represented_party", sa.String(length=300), nullable=True),
        sa.Column("message_id", sa.String(length=128), nullable=True),
        sa.Column("law_enforcement", sa.Boolean(), nullable=False),
        sa.Column("hidden_until", sa.Date(), nullable=True),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_data_usage")),
        sa.UniqueConstraint("log_index", name=op.f("uq_exchange_data_usage_log_index")),
        sa.UniqueConstraint("record_id", name=op.f("uq_exchange_data_usage_record_id")),
    )
    with op.batch_alter_table("exchange_data_usage", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchange_data_usage_receiver", ["receiver_member_code", "logged_at"], unique=False
        )
        batch_op.create_index(
            "ix_exchange_data_usage_subject", ["subject_code", "logged_at", "id"], unique=False
        )

    op.create_table(
        "exchange_message",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=16), nullable=False),
        sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("client_xroad_id", sa.String(length=300), nullable=False),
        sa.Column("service_xroad_id", sa.String(length=400), nullable=False),
        sa.Column("client_member_id", sa.Integer(), nullable=True),
        sa.Column("provider_member_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("issue", sa.String(length=300), nullable=True),
        sa.Column("represented_party", sa.String(length=300), nullable=True),
        sa.Column("purpose", sa.String(length=100), nullable=True),
        sa.Column("legal_basis", sa.String(length=300), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path_template", sa.String(length=1000), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("error_type", sa.String(length=100), nullable=True),
        sa.Column("duration_us", sa.BigInteger(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(length=64), nullable=False),
        sa.Column("request_body_hash", sa.LargeBinary(length=64), nullable=False),
        sa.Column("response_body_hash", sa.LargeBinary(length=64), nullable=False),
        sa.Column("request_body", sa.LargeBinary(), nullable=True),
        sa.Column("response_body", sa.LargeBinary(), nullable=True),
        sa.Column("client_key_id", sa.String(length=64), nullable=True),
        sa.Column("client_signature", sa.LargeBinary(length=64), nullable=True),
        sa.Column("provider_key_id", sa.String(length=64), nullable=True),
        sa.Column("provider_signature", sa.LargeBinary(length=64), nullable=True),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_message")),
        sa.UniqueConstraint("log_index", name=op.f("uq_exchange_message_log_index")),
        sa.UniqueConstraint("record_id", name=op.f("uq_exchange_message_record_id")),
    )
    with op.batch_alter_table("exchange_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_message_logged_at"), ["logged_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_message_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_message_service_xroad_id"), ["service_xroad_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("exchange_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_message_service_xroad_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_message_message_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_message_logged_at"))

    op.drop_table("exchange_message")
    with op.batch_alter_table("exchange_data_usage", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_data_usage_subject")
        batch_op.drop_index("ix_exchange_data_usage_receiver")

    op.drop_table("exchange_data_usage")
    with op.batch_alter_table("exchange_call", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_call_service")

    op.drop_table("exchange_call")
