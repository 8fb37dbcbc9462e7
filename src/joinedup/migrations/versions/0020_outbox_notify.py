"""core: a commit of outbox rows notifies the relays on PostgreSQL

Revision ID: 0020
Revises: 0019

- PostgreSQL only: a statement-level ``AFTER INSERT`` trigger on ``outbox_event`` runs
  ``pg_notify('joinedup_outbox', '')``. PostgreSQL delivers the notification when the
  transaction commits (once per transaction: identical notifications are folded), never for
  one that rolls back; the relays ``LISTEN`` (``core.pg_notify``) and wake at once instead of
  at their next poll. SQLite: nothing (its processes wake each other through
  ``core.wakeups``).
- Downgrade: the trigger and its function are dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION joinedup_outbox_notify() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('joinedup_outbox', ''); "
        "RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER outbox_event_notify AFTER INSERT ON outbox_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION joinedup_outbox_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_event_notify ON outbox_event")
    op.execute("DROP FUNCTION IF EXISTS joinedup_outbox_notify()")
