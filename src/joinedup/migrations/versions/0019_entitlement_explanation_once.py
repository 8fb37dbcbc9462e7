"""proactive: an entitlement's explanation is stored once, with its revision

Revision ID: 0019
Revises: 0018

- proactive_entitlement.explanation is dropped: every revision stores the explanation of its
  decision (proactive_entitlement_revision.explanation, as before), and the entitlement reads
  its current revision's. The two held the same document; an explanation is most of an
  entitlement's bytes.
- Downgrade: the column comes back, filled from each entitlement's current revision (NOT
  NULL again on PostgreSQL; on SQLite it stays nullable, as changing that would copy the
  table, which the revisions' and applications' foreign keys refuse).

Both ways alter the table in place (``ALTER TABLE … DROP COLUMN``, SQLite 3.35 or later):
batch mode would copy it, and dropping the old copy breaks those foreign keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("proactive_entitlement", "explanation")


def downgrade() -> None:
    op.add_column("proactive_entitlement", sa.Column("explanation", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE proactive_entitlement SET explanation = ("
        " SELECT r.explanation FROM proactive_entitlement_revision r"
        " WHERE r.entitlement_id = proactive_entitlement.id"
        " AND r.revision = proactive_entitlement.revision)"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "proactive_entitlement", "explanation", existing_type=sa.JSON(), nullable=False
        )
