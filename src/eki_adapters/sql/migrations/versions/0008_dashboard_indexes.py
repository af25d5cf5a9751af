"""Indexes for the admin dashboard's windows: messages received and answers queued in the
last hours (without them each dashboard load scans every message ever stored).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbound_messages_received_at", "inbound_messages", ["received_at"])
    op.create_index("ix_outbound_messages_created_at", "outbound_messages", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbound_messages_created_at", table_name="outbound_messages")
    op.drop_index("ix_inbound_messages_received_at", table_name="inbound_messages")
