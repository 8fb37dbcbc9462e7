"""exchange: who received a person's data is found receiver by receiver, by index

Revision ID: 0016
Revises: 0015

- exchange_data_usage: the index ``(subject_code, receiver_member_code, hidden_until)``.
  "Who used my data" offers the members that received the person's data as a filter;
  finding them grouped every record the person has (a scan that grows with every read of
  their data). With this index each receiver is one step down the index (a skip scan written
  as a recursive query), the visibility read from the index itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_exchange_data_usage_subject_receiver",
        "exchange_data_usage",
        ["subject_code", "receiver_member_code", "hidden_until"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_exchange_data_usage_subject_receiver", table_name="exchange_data_usage")
