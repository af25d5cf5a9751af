"""Claims tied to the worker that holds them: ``claimed_by`` on the inbox and the outbox
(the worker's id in ``worker_heartbeats``). Messages and sends claimed by a worker whose
heartbeat stopped are claimed again within seconds, not when a fixed lease expires.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(100), nullable=True))
    with op.batch_alter_table("outbound_messages") as batch:
        batch.add_column(sa.Column("claimed_by", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbound_messages") as batch:
        batch.drop_column("claimed_by")
    with op.batch_alter_table("inbound_messages") as batch:
        batch.drop_column("claimed_by")
