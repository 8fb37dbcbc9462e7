"""catalogue: the days a person has to accept an offer before it lapses

Revision ID: 0017
Revises: 0016

- catalogue_service.respond_within_days (nullable): an offer of the service lapses when not
  accepted within this many days of its last decision; none: it stands until decided.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("catalogue_service") as batch:
        batch.add_column(sa.Column("respond_within_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalogue_service") as batch:
        batch.drop_column("respond_within_days")
