"""engagement: feedback after a completed task in the portal

Revision ID: 0011
Revises: 0010

- engagement_feedback: one answer (task, rating 1–5, optional comment, language) per row.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engagement_feedback",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("feedback_id", sa.Uuid(), nullable=False),
        sa.Column("task", sa.String(length=64), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("given_by", sa.String(length=100), nullable=False),
        sa.CheckConstraint(
            "rating BETWEEN 1 AND 5", name=op.f("ck_engagement_feedback_rating_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_feedback")),
        sa.UniqueConstraint("feedback_id", name=op.f("uq_engagement_feedback_feedback_id")),
    )
    op.create_index(
        "ix_engagement_feedback_task", "engagement_feedback", ["task", "given_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_engagement_feedback_task", table_name="engagement_feedback")
    op.drop_table("engagement_feedback")
