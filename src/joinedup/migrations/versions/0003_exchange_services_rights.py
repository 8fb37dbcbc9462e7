"""exchange: services, access rights, API clients, signing keys

Revision ID: 0003
Revises: 0002

- exchange_service: services published by provider subsystems (registry queries run
  in-process, or a member's REST API with its OpenAPI document).
- exchange_access_right and exchange_access_right_purpose: client subsystem -> service, for
  named fields and purposes (each with its legal basis), valid from/to, revocable;
  law-enforcement rights carry a disclosure delay.
- exchange_api_client: OAuth 2.0 clients bound to a subsystem (scrypt secret hashes, sign-in
  throttling); exchange_administrator: subsystems whose clients administer the exchange.
- exchange_member_key, exchange_token_key: Ed25519 keys (private halves encrypted) that sign
  message-log records and access tokens; one active key each (partial unique indexes).
- exchange_directory_version: the change counter in-memory caches compare against.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_directory_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_directory_version")),
    )
    op.create_table(
        "exchange_token_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("use", sa.String(length=20), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_token_key")),
        sa.UniqueConstraint("key_id", name=op.f("uq_exchange_token_key_key_id")),
    )
    with op.batch_alter_table("exchange_token_key", schema=None) as batch_op:
        batch_op.create_index(
            "uq_exchange_token_key_active",
            ["use"],
            unique=True,
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        )

    op.create_table(
        "exchange_member_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("private_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["exchange_member.id"],
            name=op.f("fk_exchange_member_key_member_id_exchange_member"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_member_key")),
        sa.UniqueConstraint("key_id", name=op.f("uq_exchange_member_key_key_id")),
    )
    with op.batch_alter_table("exchange_member_key", schema=None) as batch_op:
        batch_op.create_index(
            "uq_exchange_member_key_active",
            ["member_id"],
            unique=True,
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        )

    op.create_table(
        "exchange_administrator",
        sa.Column("subsystem_id", sa.Integer(), nullable=False),
        sa.Column("appointed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("appointed_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["subsystem_id"],
            ["exchange_subsystem.id"],
            name=op.f("fk_exchange_administrator_subsystem_id_exchange_subsystem"),
        ),
        sa.PrimaryKeyConstraint("subsystem_id", name=op.f("pk_exchange_administrator")),
    )
    op.create_table(
        "exchange_api_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("subsystem_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subsystem_id"],
            ["exchange_subsystem.id"],
            name=op.f("fk_exchange_api_client_subsystem_id_exchange_subsystem"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_api_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_exchange_api_client_client_id")),
    )
    with op.batch_alter_table("exchange_api_client", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_api_client_subsystem_id"), ["subsystem_id"], unique=False
        )

    op.create_table(
        "exchange_service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subsystem_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("registry_code", sa.String(length=40), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("log_bodies", sa.Boolean(), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("openapi", sa.JSON(), nullable=True),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "kind = 'registry' OR (base_url IS NOT NULL AND openapi IS NOT NULL)",
            name=op.f("ck_exchange_service_rest"),
        ),
        sa.CheckConstraint("kind IN ('registry', 'rest')", name=op.f("ck_exchange_service_kind")),
        sa.ForeignKeyConstraint(
            ["subsystem_id"],
            ["exchange_subsystem.id"],
            name=op.f("fk_exchange_service_subsystem_id_exchange_subsystem"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_service")),
        sa.UniqueConstraint(
            "subsystem_id", "code", name=op.f("uq_exchange_service_subsystem_id_code")
        ),
    )
    op.create_table(
        "exchange_access_right",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_subsystem_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("law_enforcement", sa.Boolean(), nullable=False),
        sa.Column("disclosure_delay_days", sa.Integer(), nullable=True),
        sa.Column("own_residents_only", sa.Boolean(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.Column("revocation_reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint(
            "disclosure_delay_days IS NULL OR disclosure_delay_days BETWEEN 0 AND 3650",
            name=op.f("ck_exchange_access_right_disclosure_delay"),
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from",
            name=op.f("ck_exchange_access_right_valid_period"),
        ),
        sa.ForeignKeyConstraint(
            ["client_subsystem_id"],
            ["exchange_subsystem.id"],
            name=op.f("fk_exchange_access_right_client_subsystem_id_exchange_subsystem"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["exchange_service.id"],
            name=op.f("fk_exchange_access_right_service_id_exchange_service"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_access_right")),
    )
    with op.batch_alter_table("exchange_access_right", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchange_access_right_client", ["client_subsystem_id", "service_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_access_right_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "exchange_access_right_purpose",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("right_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("legal_basis", sa.String(length=500), nullable=False),
        sa.Column("legal_basis_url", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["right_id"],
            ["exchange_access_right.id"],
            name=op.f("fk_exchange_access_right_purpose_right_id_exchange_access_right"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_access_right_purpose")),
        sa.UniqueConstraint(
            "right_id", "purpose", name=op.f("uq_exchange_access_right_purpose_right_id_purpose")
        ),
    )


def downgrade() -> None:
    op.drop_table("exchange_access_right_purpose")
    with op.batch_alter_table("exchange_access_right", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_access_right_service_id"))
        batch_op.drop_index("ix_exchange_access_right_client")

    op.drop_table("exchange_access_right")
    op.drop_table("exchange_service")
    with op.batch_alter_table("exchange_api_client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_api_client_subsystem_id"))

    op.drop_table("exchange_api_client")
    op.drop_table("exchange_administrator")
    with op.batch_alter_table("exchange_member_key", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_exchange_member_key_active",
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        )

    op.drop_table("exchange_member_key")
    with op.batch_alter_table("exchange_token_key", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_exchange_token_key_active",
            sqlite_where=sa.text("retired_at IS NULL"),
            postgresql_where=sa.text("retired_at IS NULL"),
        )

    op.drop_table("exchange_token_key")
    op.drop_table("exchange_directory_version")
