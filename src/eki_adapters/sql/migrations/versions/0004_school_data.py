"""School data: courses, enrolments, assessments, results, attendance.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "courses",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("period", sa.String(50), nullable=False, server_default=""),
        sa.Column("code", sa.String(50), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_courses"),
        sa.UniqueConstraint("name", "period", name="uq_courses_name_period"),
    )
    op.create_table(
        "enrollments",
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("course_id", BigId, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("student_id", "course_id", name="pk_enrollments"),
    )
    op.create_index("ix_enrollments_course_id", "enrollments", ["course_id"])
    op.create_table(
        "assessments",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("course_id", BigId, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("period", sa.String(50), nullable=False, server_default=""),
        sa.Column("max_score", sa.Float(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
        sa.UniqueConstraint("course_id", "title", "period", name="uq_assessments_course_title"),
    )
    op.create_table(
        "results",
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("assessment_id", BigId, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("student_id", "assessment_id", name="pk_results"),
    )
    op.create_table(
        "attendance",
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("course_id", BigId, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("student_id", "course_id", "day", name="pk_attendance"),
    )


def downgrade() -> None:
    for table in ("attendance", "results", "assessments", "enrollments", "courses"):
        op.drop_table(table)
