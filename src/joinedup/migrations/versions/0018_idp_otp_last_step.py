"""identity: the embedded provider accepts a one-time code once

Revision ID: 0018
Revises: 0017

- idp_account.otp_last_step (nullable): the RFC 6238 time step of the last one-time code
  that signed the account in. A code was accepted again within its ±1 step of drift; now
  only a code of a later step is (RFC 6238 § 5.2). None: no code was used yet.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idp_account") as batch:
        batch.add_column(sa.Column("otp_last_step", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idp_account") as batch:
        batch.drop_column("otp_last_step")
