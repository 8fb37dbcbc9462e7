"""identity: web sessions, sign-in, staff roles, powers of attorney, embedded provider

Revision ID: 0007
Revises: 0006

- identity_web_session: server-side web sessions (keyed by the SHA-256 of the cookie token).
- identity_sign_in_request: sign-ins sent to the OpenID Connect provider (state, nonce, PKCE).
- identity_sign_in_failure: failed sign-ins, for throttling shared by every process.
- identity_staff_role: staff roles per organisation (one current role per person, member, role).
- identity_power_of_attorney: powers of attorney (parents' and representatives' mandates are
  derived from the registries, not stored).
- idp_*: the embedded OpenID Connect provider's accounts, clients, authorizations and tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_power_of_attorney",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=32), nullable=False),
        sa.Column("grantor_code", sa.String(length=20), nullable=False),
        sa.Column("grantee_code", sa.String(length=20), nullable=False),
        sa.Column("grantor_name", sa.String(length=300), nullable=False),
        sa.Column("grantee_name", sa.String(length=300), nullable=False),
        sa.Column("everything", sa.Boolean(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "grantor_code <> grantee_code", name=op.f("ck_identity_power_of_attorney_not_self")
        ),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to >= valid_from",
            name=op.f("ck_identity_power_of_attorney_period"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_power_of_attorney")),
        sa.UniqueConstraint("reference", name=op.f("uq_identity_power_of_attorney_reference")),
    )
    with op.batch_alter_table("identity_power_of_attorney", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_power_of_attorney_grantee_code"), ["grantee_code"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_identity_power_of_attorney_grantor_code"), ["grantor_code"], unique=False
        )

    op.create_table(
        "identity_sign_in_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "scope IN ('account', 'address')", name=op.f("ck_identity_sign_in_failure_scope")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_sign_in_failure")),
    )
    with op.batch_alter_table("identity_sign_in_failure", schema=None) as batch_op:
        batch_op.create_index(
            "ix_identity_sign_in_failure_scope_key_failed_at",
            ["scope", "key", "failed_at"],
            unique=False,
        )

    op.create_table(
        "identity_sign_in_request",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("binding", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=100), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("minimum_level", sa.String(length=12), nullable=False),
        sa.Column("return_to", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_sign_in_request")),
    )
    with op.batch_alter_table("identity_sign_in_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_sign_in_request_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "identity_staff_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("personal_code", sa.String(length=20), nullable=False),
        sa.Column("member_class", sa.String(length=10), nullable=False),
        sa.Column("member_code", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=30), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("granted_by", sa.String(length=100), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "role IN ('caseworker', 'supervisor', 'administrator', 'analyst')",
            name=op.f("ck_identity_staff_role_role"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_staff_role")),
    )
    with op.batch_alter_table("identity_staff_role", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_staff_role_personal_code"), ["personal_code"], unique=False
        )
        batch_op.create_index(
            "uq_identity_staff_role_current",
            ["personal_code", "member_class", "member_code", "role"],
            unique=True,
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )

    op.create_table(
        "identity_web_session",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("personal_code", sa.String(length=20), nullable=False),
        sa.Column("given_names", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("level_of_assurance", sa.String(length=12), nullable=False),
        sa.Column("methods", sa.String(length=100), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("id_token", sa.Text(), nullable=False),
        sa.Column("csrf_secret", sa.String(length=64), nullable=False),
        sa.Column("authenticated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=30), nullable=True),
        sa.Column("acting_for", sa.String(length=20), nullable=True),
        sa.Column("acting_for_name", sa.String(length=300), nullable=True),
        sa.Column("acting_for_kind", sa.String(length=20), nullable=True),
        sa.Column("acting_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "level_of_assurance IN ('low', 'substantial', 'high')",
            name=op.f("ck_identity_web_session_level_of_assurance"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_web_session")),
    )
    with op.batch_alter_table("identity_web_session", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_web_session_personal_code"), ["personal_code"], unique=False
        )

    op.create_table(
        "idp_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("personal_code", sa.String(length=20), nullable=False),
        sa.Column("given_names", sa.String(length=200), nullable=False),
        sa.Column("family_name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("otp_secret", sa.String(length=200), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("demo_seed", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idp_account")),
        sa.UniqueConstraint("personal_code", name=op.f("uq_idp_account_personal_code")),
        sa.UniqueConstraint("username", name=op.f("uq_idp_account_username")),
    )
    op.create_table(
        "idp_authorization",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("minimum_level", sa.String(length=12), nullable=False),
        sa.Column("pending_account_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("code_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("level_of_assurance", sa.String(length=12), nullable=True),
        sa.Column("methods", sa.String(length=100), nullable=True),
        sa.Column("authenticated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idp_authorization")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_idp_authorization_code_hash")),
    )
    with op.batch_alter_table("idp_authorization", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idp_authorization_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "idp_client",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=200), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idp_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_idp_client_client_id")),
    )
    op.create_table(
        "idp_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("authorization_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idp_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_idp_token_token_hash")),
    )
    with op.batch_alter_table("idp_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idp_token_authorization_id"), ["authorization_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("idp_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idp_token_authorization_id"))

    op.drop_table("idp_token")
    op.drop_table("idp_client")
    with op.batch_alter_table("idp_authorization", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idp_authorization_expires_at"))

    op.drop_table("idp_authorization")
    op.drop_table("idp_account")
    with op.batch_alter_table("identity_web_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_web_session_personal_code"))

    op.drop_table("identity_web_session")
    with op.batch_alter_table("identity_staff_role", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_identity_staff_role_current",
            sqlite_where=sa.text("revoked_at IS NULL"),
            postgresql_where=sa.text("revoked_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_identity_staff_role_personal_code"))

    op.drop_table("identity_staff_role")
    with op.batch_alter_table("identity_sign_in_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_sign_in_request_expires_at"))

    op.drop_table("identity_sign_in_request")
    with op.batch_alter_table("identity_sign_in_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_identity_sign_in_failure_scope_key_failed_at")

    op.drop_table("identity_sign_in_failure")
    with op.batch_alter_table("identity_power_of_attorney", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_power_of_attorney_grantor_code"))
        batch_op.drop_index(batch_op.f("ix_identity_power_of_attorney_grantee_code"))

    op.drop_table("identity_power_of_attorney")
