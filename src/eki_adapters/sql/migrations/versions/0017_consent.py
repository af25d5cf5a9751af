"""The consent ledger and the questions kept until consent (issue 18).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_records",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("medium", sa.String(10), nullable=False),
        sa.Column("policy_version", sa.String(40), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("student_id", BigId, nullable=True),
        sa.Column("guardian_id", BigId, nullable=True),
        sa.Column("message_id", sa.String(200), nullable=True),
        sa.Column("recorded_by", sa.String(254), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_consent_records"),
    )
    op.create_index("ix_consent_records_phone_policy_version_id", "consent_records",
                    ["phone", "policy_version", "id"])
    op.create_table(
        "consent_questions",
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("question", sa.String(1000), nullable=False),
        sa.Column("asked_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone", name="pk_consent_questions"),
    )


def downgrade() -> None:
    op.drop_table("consent_questions")
    op.drop_index("ix_consent_records_phone_policy_version_id", table_name="consent_records")
    op.drop_table("consent_records")
