"""The outbox's purpose (reply, staff, broadcast, alert), broadcasts and numbers without
WhatsApp (issue #16). Replies and staff messages are claimed first from their own partial
index; broadcasts and alerts from another, paced, and counted against the daily limit
through ``initiated_at``.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

PRIORITY_DUE = "status = 'queued' AND purpose IN ('reply', 'staff')"
BULK_DUE = "status = 'queued' AND purpose IN ('broadcast', 'alert')"


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages") as batch:
        batch.add_column(sa.Column("purpose", sa.String(10), nullable=False,
                                   server_default="reply"))
        batch.add_column(sa.Column("broadcast_id", BigId, nullable=True))
        batch.add_column(sa.Column("initiated_at", UTCDateTime(), nullable=True))
        batch.create_unique_constraint("uq_outbound_messages_broadcast_recipient",
                                       ["broadcast_id", "to_wa_id"])
    op.execute("UPDATE outbound_messages SET purpose = 'staff' WHERE author IS NOT NULL")
    op.create_index("ix_outbound_messages_due_priority", "outbound_messages",
                    ["next_attempt_at", "id"], postgresql_where=sa.text(PRIORITY_DUE),
                    sqlite_where=sa.text(PRIORITY_DUE))
    op.create_index("ix_outbound_messages_due_bulk", "outbound_messages",
                    ["next_attempt_at", "id"], postgresql_where=sa.text(BULK_DUE),
                    sqlite_where=sa.text(BULK_DUE))
    op.create_index("ix_outbound_messages_initiated", "outbound_messages",
                    ["initiated_at", "to_wa_id"],
                    postgresql_where=sa.text("initiated_at IS NOT NULL"),
                    sqlite_where=sa.text("initiated_at IS NOT NULL"))
    op.create_table(
        "no_whatsapp",
        sa.Column("wa_id", sa.String(64), primary_key=True),
        sa.Column("marked_at", UTCDateTime(), nullable=False),
        sa.Column("error_code", sa.String(20), nullable=False),
    )


    op.create_table(
        "broadcasts",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("template_name", sa.String(512), nullable=False),
        sa.Column("template_language", sa.String(15), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("all_tags", sa.Boolean(), nullable=False),
        sa.Column("recipients_kind", sa.String(10), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("scheduled_at", UTCDateTime(), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("queued_at", UTCDateTime(), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("excluded", sa.Text(), nullable=False),
    )
    op.create_index("ix_broadcasts_state", "broadcasts", ["state"])


def downgrade() -> None:
    op.drop_index("ix_broadcasts_state", "broadcasts")
    op.drop_table("broadcasts")
    op.drop_table("no_whatsapp")
    op.drop_index("ix_outbound_messages_initiated", "outbound_messages")
    op.drop_index("ix_outbound_messages_due_bulk", "outbound_messages")
    op.drop_index("ix_outbound_messages_due_priority", "outbound_messages")
    with op.batch_alter_table("outbound_messages") as batch:
        batch.drop_constraint("uq_outbound_messages_broadcast_recipient", type_="unique")
        batch.drop_column("initiated_at")
        batch.drop_column("broadcast_id")
        batch.drop_column("purpose")
