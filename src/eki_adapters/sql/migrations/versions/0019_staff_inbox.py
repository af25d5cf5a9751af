"""The staff inbox (issue #15): internal notes and system events of a thread, quick
replies, and when each person last opened a conversation (unread counts).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_notes",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("event", sa.String(40), nullable=True),
        sa.Column("author", sa.String(254), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_notes"),
    )
    op.create_index("ix_inbox_notes_student_id_at", "inbox_notes", ["student_id", "at"])
    op.create_table(
        "quick_replies",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("shortcut", sa.String(30), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(254), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quick_replies"),
        sa.UniqueConstraint("shortcut", name="uq_quick_replies_shortcut"),
    )
    op.create_table(
        "inbox_seen",
        sa.Column("reader", sa.String(254), nullable=False),
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("reader", "student_id", name="pk_inbox_seen"),
    )


def downgrade() -> None:
    op.drop_table("inbox_seen")
    op.drop_table("quick_replies")
    op.drop_index("ix_inbox_notes_student_id_at", table_name="inbox_notes")
    op.drop_table("inbox_notes")
