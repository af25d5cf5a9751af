"""The message pipeline: webhook log, inbox, statuses, outbox, opt-outs, hand-offs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("students") as batch:
        batch.add_column(sa.Column("number_changed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("new_wa_id", sa.String(64), nullable=True))

    op.create_table(
        "webhook_events",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("signature_ok", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
    )
    op.create_index("ix_webhook_events_received_at", "webhook_events",
                    [sa.text("received_at DESC")])

    op.create_table(
        "inbound_messages",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("provider_id", sa.String(200), nullable=False),
        sa.Column("wa_id", sa.String(64), nullable=False),
        sa.Column("profile_name", sa.String(200), nullable=True),
        sa.Column("student_id", BigId, nullable=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("payload", sa.String(256), nullable=True),
        sa.Column("context_id", sa.String(200), nullable=True),
        sa.Column("media_id", sa.String(200), nullable=True),
        sa.Column("mime_type", sa.String(100), nullable=True),
        sa.Column("is_voice", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("reaction_to", sa.String(200), nullable=True),
        sa.Column("reaction_emoji", sa.String(32), nullable=True),
        sa.Column("system_type", sa.String(50), nullable=True),
        sa.Column("new_wa_id", sa.String(64), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("available_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("claim_token", sa.String(40), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("processed_at", UTCDateTime(), nullable=True),
        sa.Column("intent", sa.String(40), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_messages"),
        sa.UniqueConstraint("channel", "provider_id",
                            name="uq_inbound_messages_channel_provider_id"),
    )
    op.create_index("ix_inbound_messages_pending", "inbound_messages", ["sent_at", "id"],
                    postgresql_where=sa.text("state = 'pending'"),
                    sqlite_where=sa.text("state = 'pending'"))
    op.create_index("ix_inbound_messages_processing", "inbound_messages",
                    ["wa_id", "lease_until"],
                    postgresql_where=sa.text("state = 'processing'"),
                    sqlite_where=sa.text("state = 'processing'"))
    op.create_index("ix_inbound_messages_student_id_received_at", "inbound_messages",
                    ["student_id", sa.text("received_at DESC")])

    op.create_table(
        "message_statuses",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("provider_id", sa.String(200), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("recipient", sa.String(64), nullable=True),
        sa.Column("error_code", sa.String(20), nullable=True),
        sa.Column("error_title", sa.Text(), nullable=True),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("applied", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_statuses"),
    )
    op.create_index("ix_message_statuses_provider_id", "message_statuses", ["provider_id"])

    op.create_table(
        "outbound_messages",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("student_id", BigId, nullable=True),
        sa.Column("inbound_id", BigId, nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("to_wa_id", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.String(200), nullable=True),
        sa.Column("mark_read", sa.String(200), nullable=True),
        sa.Column("intent", sa.String(40), nullable=True),
        sa.Column("tools", sa.String(400), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("provider_id", sa.String(200), nullable=True),
        sa.Column("error_code", sa.String(20), nullable=True),
        sa.Column("error_title", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbound_messages"),
        sa.UniqueConstraint("provider_id", name="uq_outbound_messages_provider_id"),
    )
    op.create_index("ix_outbound_messages_due", "outbound_messages", ["next_attempt_at", "id"],
                    postgresql_where=sa.text("status = 'queued'"),
                    sqlite_where=sa.text("status = 'queued'"))
    op.create_index("ix_outbound_messages_open", "outbound_messages", ["to_wa_id", "id"],
                    postgresql_where=sa.text("status IN ('queued', 'sending')"),
                    sqlite_where=sa.text("status IN ('queued', 'sending')"))
    op.create_index("ix_outbound_messages_student_id_created_at", "outbound_messages",
                    ["student_id", sa.text("created_at DESC")])

    op.create_table(
        "opt_outs",
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("student_id", BigId, nullable=True),
        sa.Column("opted_out_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone", name="pk_opt_outs"),
    )
    op.create_table(
        "handoffs",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("wa_id", sa.String(64), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("released_at", UTCDateTime(), nullable=True),
        sa.Column("released_by", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_handoffs"),
    )
    op.create_index("ix_handoffs_student_id_released_at", "handoffs",
                    ["student_id", "released_at"])


def downgrade() -> None:
    for table in ("handoffs", "opt_outs", "outbound_messages", "message_statuses",
                  "inbound_messages", "webhook_events"):
        op.drop_table(table)
    with op.batch_alter_table("students") as batch:
        batch.drop_column("new_wa_id")
        batch.drop_column("number_changed_at")
