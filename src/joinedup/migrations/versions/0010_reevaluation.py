"""proactive re-evaluation: law versions, re-evaluation runs and their chunk checkpoints

Revision ID: 0010
Revises: 0009

- proactive_law_version: parameter versions of a ruleset published with the date they take
  effect.
- proactive_reevaluation: a run re-evaluating the whole population under a law version.
- proactive_reevaluation_chunk: the checkpoint of one range of persons (done or pending).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "proactive_law_version",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("ruleset", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("citation", sa.String(length=300), nullable=False),
        sa.Column("owner_member_class", sa.String(length=10), nullable=False),
        sa.Column("owner_member_code", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_law_version")),
        sa.UniqueConstraint("uid", name=op.f("uq_proactive_law_version_uid")),
    )
    with op.batch_alter_table("proactive_law_version", schema=None) as batch_op:
        batch_op.create_index("ix_proactive_law_version_ruleset", ["ruleset", "id"], unique=False)

    op.create_table(
        "proactive_reevaluation",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column(
            "law_version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("chunk_persons", sa.Integer(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("persons_total", sa.BigInteger(), nullable=False),
        sa.Column("persons_done", sa.BigInteger(), nullable=False),
        sa.Column("changes", sa.BigInteger(), nullable=False),
        sa.Column("letters", sa.BigInteger(), nullable=False),
        sa.Column("owner_member_class", sa.String(length=10), nullable=False),
        sa.Column("owner_member_code", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('planned', 'running', 'completed', 'failed')",
            name=op.f("ck_proactive_reevaluation_status"),
        ),
        sa.ForeignKeyConstraint(
            ["law_version_id"],
            ["proactive_law_version.id"],
            name=op.f("fk_proactive_reevaluation_law_version_id_proactive_law_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_reevaluation")),
        sa.UniqueConstraint("uid", name=op.f("uq_proactive_reevaluation_uid")),
    )
    with op.batch_alter_table("proactive_reevaluation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_proactive_reevaluation_law_version_id"), ["law_version_id"], unique=False
        )

    op.create_table(
        "proactive_reevaluation_chunk",
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("first_ref", sa.BigInteger(), nullable=False),
        sa.Column("end_ref", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("letters", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'done')", name=op.f("ck_proactive_reevaluation_chunk_status")
        ),
        sa.CheckConstraint(
            "end_ref > first_ref", name=op.f("ck_proactive_reevaluation_chunk_range")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["proactive_reevaluation.id"],
            name=op.f("fk_proactive_reevaluation_chunk_run_id_proactive_reevaluation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_proactive_reevaluation_chunk")),
    )


def downgrade() -> None:
    op.drop_table("proactive_reevaluation_chunk")
    with op.batch_alter_table("proactive_reevaluation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_proactive_reevaluation_law_version_id"))

    op.drop_table("proactive_reevaluation")
    with op.batch_alter_table("proactive_law_version", schema=None) as batch_op:
        batch_op.drop_index("ix_proactive_law_version_ruleset")

    op.drop_table("proactive_law_version")
