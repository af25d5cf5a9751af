"""Guardians linked to students, and verification codes (issue 17).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guardians",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("subject_student_id", BigId, nullable=True),
        sa.Column("subject_chosen_at", UTCDateTime(), nullable=True),
        sa.Column("question", sa.String(1000), nullable=True),
        sa.Column("question_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_guardians"),
        sa.UniqueConstraint("phone", name="uq_guardians_phone"),
    )
    op.create_table(
        "guardian_links",
        sa.Column("guardian_id", BigId, nullable=False),
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("relationship", sa.String(20), nullable=False),
        sa.Column("may_see_grades", sa.Boolean(), nullable=False),
        sa.Column("may_receive_alerts", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("guardian_id", "student_id", name="pk_guardian_links"),
        sa.ForeignKeyConstraint(["guardian_id"], ["guardians.id"], ondelete="CASCADE",
                                name="fk_guardian_links_guardian_id_guardians"),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], ondelete="CASCADE",
                                name="fk_guardian_links_student_id_students"),
    )
    op.create_index("ix_guardian_links_student_id", "guardian_links", ["student_id"])
    op.create_table(
        "verification_codes",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.Column("used_by", sa.String(16), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("approved_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_verification_codes"),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], ondelete="CASCADE",
                                name="fk_verification_codes_student_id_students"),
        sa.UniqueConstraint("code_hash", name="uq_verification_codes_code_hash"),
    )
    op.create_index("ix_verification_codes_student_id", "verification_codes", ["student_id"])


def downgrade() -> None:
    op.drop_table("verification_codes")
    op.drop_table("guardian_links")
    op.drop_table("guardians")
