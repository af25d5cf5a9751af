"""Academic alerts (issue 16): the rules' stored switches, the alerts sent (unique per
student, rule, item and recipient) and the per-rule opt-outs.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=True),
        sa.Column("template", sa.String(512), nullable=True),
        sa.Column("language", sa.String(15), nullable=True),
        sa.Column("enabled_since", UTCDateTime(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=True),
        sa.Column("updated_by", sa.String(254), nullable=True),
        sa.PrimaryKeyConstraint("rule", name="pk_alert_rules"),
    )
    op.create_table(
        "alerts",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("student_id", BigId, nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("item", sa.String(100), nullable=False),
        sa.Column("recipient", sa.String(16), nullable=False),
        sa.Column("recipient_kind", sa.String(10), nullable=False),
        sa.Column("guardian_id", BigId, nullable=True),
        sa.Column("outbound_id", BigId, nullable=True),
        sa.Column("template", sa.String(512), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(["student_id"], ["students.id"], ondelete="CASCADE",
                                name="fk_alerts_student_id_students"),
        sa.UniqueConstraint("student_id", "rule", "item", "recipient",
                            name="uq_alerts_student_id_rule_item_recipient"),
    )
    op.create_index("ix_alerts_recipient_created_at", "alerts", ["recipient", "created_at"])
    op.create_index("ix_alerts_created_at", "alerts", ["created_at"])
    op.create_table(
        "alert_opt_outs",
        sa.Column("phone", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone", "rule", name="pk_alert_opt_outs"),
    )


def downgrade() -> None:
    op.drop_table("alert_opt_outs")
    op.drop_index("ix_alerts_created_at", table_name="alerts")
    op.drop_index("ix_alerts_recipient_created_at", table_name="alerts")
    op.drop_table("alerts")
    op.drop_table("alert_rules")
