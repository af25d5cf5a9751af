"""Students, tags and their indexes.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "students",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("wa_id", sa.String(20), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("registered_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_students"),
        sa.UniqueConstraint("phone", name="uq_students_phone"),
    )
    op.create_index(
        "ix_students_active_registered_at",
        "students",
        ["active", sa.text("registered_at DESC")],
    )
    op.create_index("ix_students_registered_at", "students", [sa.text("registered_at DESC")])
    op.create_table(
        "tags",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        sa.UniqueConstraint("name", name="uq_tags_name"),
    )
    op.create_table(
        "student_tags",
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("tag_id", BigId, nullable=False),
        sa.PrimaryKeyConstraint("student_id", "tag_id", name="pk_student_tags"),
    )
    op.create_index("ix_student_tags_tag_id_student_id", "student_tags", ["tag_id", "student_id"])


def downgrade() -> None:
    op.drop_table("student_tags")
    op.drop_table("tags")
    op.drop_index("ix_students_registered_at", table_name="students")
    op.drop_index("ix_students_active_registered_at", table_name="students")
    op.drop_table("students")
