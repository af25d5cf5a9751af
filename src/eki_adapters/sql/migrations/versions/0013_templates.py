"""Message templates, staff messages in the outbox (author, template), hand-off assignment,
and the index that finds a person's newest inbound message (the 24-hour window).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_templates",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("name", sa.String(512), nullable=False),
        sa.Column("language", sa.String(15), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("content_sid", sa.String(34), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_message_templates"),
        sa.UniqueConstraint("name", "language", name="uq_message_templates_name_language"),
    )
    with op.batch_alter_table("outbound_messages") as batch:
        batch.add_column(sa.Column("author", sa.String(254), nullable=True))
        batch.add_column(sa.Column("template_name", sa.String(512), nullable=True))
        batch.add_column(sa.Column("template_language", sa.String(15), nullable=True))
        batch.add_column(sa.Column("template_params", sa.Text(), nullable=True))
        batch.add_column(sa.Column("content_sid", sa.String(34), nullable=True))
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("assigned_to", sa.String(254), nullable=True))
        batch.add_column(sa.Column("assigned_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("last_staff_at", UTCDateTime(), nullable=True))
    op.create_index("ix_inbound_messages_wa_id_sent_at", "inbound_messages",
                    ["wa_id", sa.text("sent_at DESC")])


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_wa_id_sent_at", table_name="inbound_messages")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("last_staff_at")
        batch.drop_column("assigned_at")
        batch.drop_column("assigned_to")
    with op.batch_alter_table("outbound_messages") as batch:
        batch.drop_column("content_sid")
        batch.drop_column("template_params")
        batch.drop_column("template_language")
        batch.drop_column("template_name")
        batch.drop_column("author")
    op.drop_table("message_templates")
