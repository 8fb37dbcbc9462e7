"""identity: the embedded provider looks a nonce's reuse up by index

Revision ID: 0015
Revises: 0014

- idp_authorization.nonce_hash: SHA-256 hex of the authorization request's ``nonce``, with
  the index ``(client_id, nonce_hash)``. Checking that a nonce was not used before read the
  nonce out of every stored authorization's JSON parameters (a scan of a table that grows
  with every sign-in). Filled here for the authorizations stored before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1_000


def upgrade() -> None:
    with op.batch_alter_table("idp_authorization") as batch:
        batch.add_column(sa.Column("nonce_hash", sa.String(length=64), nullable=True))
        batch.create_index(
            "ix_idp_authorization_client_nonce", ["client_id", "nonce_hash"], unique=False
        )
    table = sa.table(
        "idp_authorization",
        sa.column("id", sa.String()),
        sa.column("parameters", sa.JSON()),
        sa.column("nonce_hash", sa.String()),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(table.c.id, table.c.parameters)).all()
    updates = [
        {"key": row.id, "nonce_hash": hashlib.sha256(str(nonce).encode()).hexdigest()}
        for row in rows
        if isinstance(row.parameters, dict) and (nonce := row.parameters.get("nonce"))
    ]
    statement = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("key"))
        .values(nonce_hash=sa.bindparam("nonce_hash"))
    )
    for start in range(0, len(updates), _BATCH):
        connection.execute(statement, updates[start : start + _BATCH])


def downgrade() -> None:
    with op.batch_alter_table("idp_authorization") as batch:
        batch.drop_index("ix_idp_authorization_client_nonce")
        batch.drop_column("nonce_hash")
