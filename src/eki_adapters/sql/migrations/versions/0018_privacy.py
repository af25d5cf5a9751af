"""Privacy by law (issue 18): the register of data requests and the daily counts kept
when the retention purge deletes raw rows. Indexes for the purge's "older than" scans of
message statuses and the audit log.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("phone", sa.String(16), nullable=True),
        sa.Column("reference", sa.String(40), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("opened_by", sa.String(254), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("closed_by", sa.String(254), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_requests"),
    )
    op.create_index("ix_privacy_requests_closed_at_due_on", "privacy_requests",
                    ["closed_at", "due_on"])
    op.create_index("ix_privacy_requests_phone", "privacy_requests", ["phone"])
    op.create_table(
        "daily_counts",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("inbound", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("outbound", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("llm_calls", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("llm_tokens", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("llm_cost_usd", sa.Float(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("day", name="pk_daily_counts"),
    )
    op.create_index("ix_message_statuses_received_at", "message_statuses", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_message_statuses_received_at", table_name="message_statuses")
    op.drop_table("daily_counts")
    op.drop_index("ix_privacy_requests_phone", table_name="privacy_requests")
    op.drop_index("ix_privacy_requests_closed_at_due_on", table_name="privacy_requests")
    op.drop_table("privacy_requests")
