"""catalogue and proactive services; daily jobs

Revision ID: 0008
Revises: 0007

- catalogue_service: the services of every agency and level (names per language, owner,
  level, delivery mode, ruleset variable, exchange purpose, legal and lawful basis).
- catalogue_life_event: the life events that concern a service, and whom each concerns.
- proactive_entitlement: a person's entitlement from a catalogued service (status, amount,
  period, reason and explanation, ruleset version, legal basis).
- proactive_entitlement_revision: every change of an entitlement, with its actor and letter.
- core_scheduled_run: each daily job's claim of a day (one run per job and day).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "catalogue_service",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("descriptions", sa.JSON(), nullable=False),
        sa.Column("owner_member_class", sa.String(length=10), nullable=False),
        sa.Column("owner_member_code", sa.String(length=64), nullable=False),
        sa.Column("owner_subsystem", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column("delivery_mode", sa.String(length=20), nullable=False),
        sa.Column("ruleset", sa.String(length=64), nullable=False),
        sa.Column("variable", sa.String(length=100), nullable=False),
        sa.Column("per_occasion", sa.Boolean(), nullable=False),
        sa.Column("purpose", sa.String(length=100), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("legal_basis_url", sa.String(length=500), nullable=True),
        sa.Column("lawful_basis", sa.String(length=10), nullable=False),
        sa.Column("data_agreement_id", sa.Uuid(), nullable=True),
        sa.Column("apply_url", sa.String(length=500), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "(lawful_basis = 'consent') = (data_agreement_id IS NOT NULL)",
            name=op.f("ck_catalogue_service_consent_agreement"),
        ),
        sa.CheckConstraint(
            "delivery_mode IN ('automatic', 'proactive_offer', 'inform', 'application')",
            name=op.f("ck_catalogue_service_delivery_mode"),
        ),
        sa.CheckConstraint(
            "lawful_basis IN ('law', 'consent')", name=op.f("ck_catalogue_service_lawful_basis")
        ),
        sa.CheckConstraint(
            "level IN ('national', 'regional', 'local')", name=op.f("ck_catalogue_service_level")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_service")),
        sa.UniqueConstraint("code", name=op.f("uq_catalogue_service_code")),
    )
    with op.batch_alter_table("catalogue_service", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalogue_service_owner_member_code"),
            ["owner_member_code"],
            unique=False,
        )

    op.create_table(
        "core_scheduled_run",
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("job", "run_on", name=op.f("pk_core_scheduled_run")),
    )
    op.create_table(
        "proactive_entitlement",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("person_code", sa.String(length=32), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("occasion", sa.String(length=100), nullable=False),
        sa.Column("owner_member_class", sa.String(length=10), nullable=False),
        sa.Column("owner_member_code", sa.String(length=64), nullable=False),
        sa.Column("delivery_mode", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("life_event", sa.String(length=20), nullable=True),
        sa.Column("regarding_code", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("ruleset", sa.String(length=64), nullable=False),
        sa.Column("ruleset_version", sa.String(length=32), nullable=False),
        sa.Column("variable", sa.String(length=100), nullable=False),
        sa.Column("legal_basis", sa.String(length=300), nullable=False),
        sa.Column("legal_basis_url", sa.String(length=500), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "status IN ('eligible', 'offered', 'granted', 'declined', 'opted_out', 'ended', "
            "'awaiting_consent')",
            name=op.f("ck_proactive_entitlement_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_entitlement")),
        sa.UniqueConstraint(
            "person_code",
            "service_code",
            "occasion",
            name=op.f("uq_proactive_entitlement_person_service_occasion"),
        ),
        sa.UniqueConstraint("uid", name=op.f("uq_proactive_entitlement_uid")),
    )
    with op.batch_alter_table("proactive_entitlement", schema=None) as batch_op:
        batch_op.create_index(
            "ix_proactive_entitlement_owner",
            ["owner_member_code", "service_code", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_proactive_entitlement_person", ["person_code", "id"], unique=False
        )

    op.create_table(
        "catalogue_life_event",
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("life_event", sa.String(length=20), nullable=False),
        sa.Column("concerns", sa.String(length=10), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "concerns IN ('person', 'parents', 'child', 'spouse', 'estate')",
            name=op.f("ck_catalogue_life_event_concerns"),
        ),
        sa.CheckConstraint(
            "life_event IN ('birth', 'death', 'marriage', 'address_change', 'employment_ended', "
            "'age_6', 'age_18', 'pension_age')",
            name=op.f("ck_catalogue_life_event_life_event"),
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["catalogue_service.id"],
            name=op.f("fk_catalogue_life_event_service_id_catalogue_service"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "service_id", "life_event", "concerns", name=op.f("pk_catalogue_life_event")
        ),
    )
    with op.batch_alter_table("catalogue_life_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_catalogue_life_event_life_event"), ["life_event"], unique=False
        )

    op.create_table(
        "proactive_entitlement_revision",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "entitlement_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("ruleset_version", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("acting_for", sa.String(length=32), nullable=True),
        sa.Column("event_id", sa.Uuid(), nullable=True),
        sa.Column("letter_reference", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('eligible', 'offered', 'granted', 'declined', 'opted_out', 'ended', "
            "'awaiting_consent')",
            name=op.f("ck_proactive_entitlement_revision_status"),
        ),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["proactive_entitlement.id"],
            name=op.f("fk_proactive_entitlement_revision_entitlement_id_proactive_entitlement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_entitlement_revision")),
        sa.UniqueConstraint(
            "entitlement_id", "revision", name=op.f("uq_proactive_entitlement_revision_number")
        ),
    )


def downgrade() -> None:
    op.drop_table("proactive_entitlement_revision")
    with op.batch_alter_table("catalogue_life_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_life_event_life_event"))

    op.drop_table("catalogue_life_event")
    with op.batch_alter_table("proactive_entitlement", schema=None) as batch_op:
        batch_op.drop_index("ix_proactive_entitlement_person")
        batch_op.drop_index("ix_proactive_entitlement_owner")

    op.drop_table("proactive_entitlement")
    op.drop_table("core_scheduled_run")
    with op.batch_alter_table("catalogue_service", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_catalogue_service_owner_member_code"))

    op.drop_table("catalogue_service")
