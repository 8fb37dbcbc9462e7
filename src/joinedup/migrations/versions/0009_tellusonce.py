"""tellusonce: subscriptions, life events, notifications (Tell Us Once)

Revision ID: 0009
Revises: 0008

- tellusonce_subscription: which agency's REST service is told of which life event.
- tellusonce_life_event: a life event as Tell Us Once took it in (one per registry event).
- tellusonce_notification: one agency told of one life event (unique per event and
  subscription), its attempts, lease, answer and dead-letter state.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tellusonce_life_event",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("source_event_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_code", sa.String(length=32), nullable=False),
        sa.Column("subject_name", sa.String(length=300), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("letters_sent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tellusonce_life_event")),
        sa.UniqueConstraint(
            "source_event_id", name=op.f("uq_tellusonce_life_event_source_event_id")
        ),
    )
    with op.batch_alter_table("tellusonce_life_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tellusonce_life_event_status"), ["status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tellusonce_life_event_subject_code"), ["subject_code"], unique=False
        )

    op.create_table(
        "tellusonce_subscription",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("life_event", sa.String(length=20), nullable=False),
        sa.Column("member_class", sa.String(length=10), nullable=False),
        sa.Column("member_code", sa.String(length=64), nullable=False),
        sa.Column("member_name", sa.String(length=300), nullable=False),
        sa.Column("subsystem_code", sa.String(length=64), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("municipality_code", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tellusonce_subscription")),
        sa.UniqueConstraint(
            "life_event",
            "member_class",
            "member_code",
            "subsystem_code",
            "service_code",
            name=op.f("uq_tellusonce_subscription_service"),
        ),
    )
    op.create_table(
        "tellusonce_notification",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "life_event_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("outcome", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dead_lettered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replayed_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["life_event_id"],
            ["tellusonce_life_event.id"],
            name=op.f("fk_tellusonce_notification_life_event_id_tellusonce_life_event"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["tellusonce_subscription.id"],
            name=op.f("fk_tellusonce_notification_subscription_id_tellusonce_subscription"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tellusonce_notification")),
        sa.UniqueConstraint(
            "life_event_id",
            "subscription_id",
            name=op.f("uq_tellusonce_notification_event_subscription"),
        ),
        sa.UniqueConstraint("message_id", name=op.f("uq_tellusonce_notification_message_id")),
    )
    with op.batch_alter_table("tellusonce_notification", schema=None) as batch_op:
        batch_op.create_index(
            "ix_tellusonce_notification_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            "ix_tellusonce_notification_life_event", ["life_event_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("tellusonce_notification", schema=None) as batch_op:
        batch_op.drop_index("ix_tellusonce_notification_life_event")
        batch_op.drop_index("ix_tellusonce_notification_due")

    op.drop_table("tellusonce_notification")
    op.drop_table("tellusonce_subscription")
    with op.batch_alter_table("tellusonce_life_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tellusonce_life_event_subject_code"))
        batch_op.drop_index(batch_op.f("ix_tellusonce_life_event_status"))

    op.drop_table("tellusonce_life_event")
