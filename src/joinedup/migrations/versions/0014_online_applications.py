"""catalogue and proactive: online applications

Revision ID: 0014
Revises: 0013

- catalogue_service.applicant_inputs: the ruleset's input variables an applicant declares in
  an online application (what no register holds, e.g. the rent); ``[]`` for every service
  catalogued before.
- proactive_application: an online application (what was declared, by whom, for whom, when,
  and the entitlement it led to); one per submission key.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("catalogue_service") as batch:
        batch.add_column(
            sa.Column("applicant_inputs", sa.JSON(), nullable=False, server_default="[]")
        )
    op.create_table(
        "proactive_application",
        sa.Column("id", _BIG_ID, autoincrement=True, nullable=False),
        sa.Column("uid", sa.Uuid(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=False),
        sa.Column("person_code", sa.String(length=32), nullable=False),
        sa.Column("actor_code", sa.String(length=32), nullable=False),
        sa.Column("submission", sa.Uuid(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("entitlement_id", _BIG_ID, nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('granted', 'refused')", name=op.f("ck_proactive_application_outcome")
        ),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["proactive_entitlement.id"],
            name=op.f("fk_proactive_application_entitlement_id_proactive_entitlement"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proactive_application")),
        sa.UniqueConstraint("uid", name=op.f("uq_proactive_application_uid")),
        sa.UniqueConstraint(
            "person_code",
            "service_code",
            "submission",
            name=op.f("uq_proactive_application_submission"),
        ),
    )
    op.create_index(
        "ix_proactive_application_person",
        "proactive_application",
        ["person_code", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_proactive_application_person", table_name="proactive_application")
    op.drop_table("proactive_application")
    with op.batch_alter_table("catalogue_service") as batch:
        batch.drop_column("applicant_inputs")
