"""The claim of a sender's pending messages reads only that sender's rows.

Without it, claiming one sender read every pending row (a backlog of N messages cost
O(N) rows per claim, O(N²) to drain); bench/bench_pipeline.py shows the rows read per turn.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_inbound_messages_pending_sender", "inbound_messages", ["wa_id"],
        postgresql_where=sa.text("state = 'pending'"),
        sqlite_where=sa.text("state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_pending_sender", table_name="inbound_messages")
