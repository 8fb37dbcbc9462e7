"""exchange: message-log records signed in batches

Revision ID: 0013
Revises: 0012

- exchange_message.signature_proof: the batch a record's signatures are of — its index, the
  batch's size and its audit path in the batch's Merkle tree (NULL for a record signed alone,
  before batches).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_message") as batch:
        batch.add_column(sa.Column("signature_proof", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exchange_message") as batch:
        batch.drop_column("signature_proof")
