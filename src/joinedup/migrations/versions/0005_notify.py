"""notify: the digital mailbox

Revision ID: 0005
Revises: 0004

- notify_letter: letters agencies sent to persons' mailboxes, each fixed in the transparency log
  (and its read receipt, when first opened).
- notify_paper_dispatch: paper copies for persons exempt from digital post, queued to posted.
- notify_preference: a person's letter language and exemption from digital post.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notify_letter",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("salt", sa.LargeBinary(length=16), nullable=False),
        sa.Column("recipient_code", sa.String(length=32), nullable=False),
        sa.Column("sender_member_class", sa.String(length=10), nullable=False),
        sa.Column("sender_member_code", sa.String(length=64), nullable=False),
        sa.Column("sender_name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("paragraphs", sa.JSON(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("regarding", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_by", sa.String(length=100), nullable=False),
        sa.Column("deemed_delivered_on", sa.Date(), nullable=True),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_by", sa.String(length=32), nullable=True),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("receipt_log_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_letter")),
        sa.UniqueConstraint("log_index", name=op.f("uq_notify_letter_log_index")),
        sa.UniqueConstraint("message_id", name=op.f("uq_notify_letter_message_id")),
        sa.UniqueConstraint("receipt_log_index", name=op.f("uq_notify_letter_receipt_log_index")),
        sa.UniqueConstraint(
            "sender_member_class",
            "sender_member_code",
            "reference",
            name=op.f("uq_notify_letter_sender_reference"),
        ),
    )
    with op.batch_alter_table("notify_letter", schema=None) as batch_op:
        batch_op.create_index("ix_notify_letter_recipient", ["recipient_code", "id"], unique=False)

    op.create_table(
        "notify_preference",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_code", sa.String(length=32), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column("digital_exempt", sa.Boolean(), nullable=False),
        sa.Column("exempt_reason", sa.String(length=300), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_preference")),
        sa.UniqueConstraint("person_code", name=op.f("uq_notify_preference_person_code")),
    )
    op.create_table(
        "notify_paper_dispatch",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "letter_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("print_reference", sa.String(length=300), nullable=True),
        sa.Column("problem", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["notify_letter.id"],
            name=op.f("fk_notify_paper_dispatch_letter_id_notify_letter"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_paper_dispatch")),
        sa.UniqueConstraint("letter_id", name=op.f("uq_notify_paper_dispatch_letter_id")),
    )
    with op.batch_alter_table("notify_paper_dispatch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notify_paper_dispatch_status"), ["status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("notify_paper_dispatch", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notify_paper_dispatch_status"))

    op.drop_table("notify_paper_dispatch")
    op.drop_table("notify_preference")
    with op.batch_alter_table("notify_letter", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_letter_recipient")

    op.drop_table("notify_letter")
