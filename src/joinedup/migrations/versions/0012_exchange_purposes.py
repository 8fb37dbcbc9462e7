"""exchange: the purposes of the access rights, in words

Revision ID: 0012
Revises: 0011

- exchange_purpose: what each purpose code means, per language (JSON ``{"en": …, "et": …}``),
  shown as the "why" of every record in "Who used my data".
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_purpose",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("described_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("described_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_purpose")),
        sa.UniqueConstraint("code", name=op.f("uq_exchange_purpose_code")),
    )


def downgrade() -> None:
    op.drop_table("exchange_purpose")
