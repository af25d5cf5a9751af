"""Staff accounts, personal API tokens, one-time setup links and the audit log.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("totp_secret", sa.String(64), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_sign_in_at", UTCDateTime(), nullable=True),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_staff_members"),
        sa.UniqueConstraint("email", name="uq_staff_members_email"),
    )
    op.create_table(
        "staff_api_tokens",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("staff_id", BigId, nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_staff_api_tokens"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"],
                                name="fk_staff_api_tokens_staff_id_staff_members"),
        sa.UniqueConstraint("token_hash", name="uq_staff_api_tokens_token_hash"),
    )
    op.create_index("ix_staff_api_tokens_staff_id", "staff_api_tokens", ["staff_id"])
    op.create_table(
        "staff_setup_links",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("staff_id", BigId, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_staff_setup_links"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_members.id"],
                                name="fk_staff_setup_links_staff_id_staff_members"),
        sa.UniqueConstraint("token_hash", name="uq_staff_setup_links_token_hash"),
    )
    op.create_index("ix_staff_setup_links_staff_id", "staff_setup_links", ["staff_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", BigId, sa.Identity(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("target_type", sa.String(40), nullable=True),
        sa.Column("target_id", sa.String(254), nullable=True),
        sa.Column("ip", sa.String(64), nullable=True),
        sa.Column("user_agent", sa.String(300), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor", "at"])
    op.create_index("ix_audit_log_action_target_id_at", "audit_log",
                    ["action", "target_id", "at"])
    op.create_index("ix_audit_log_action_ip_at", "audit_log", ["action", "ip", "at"])


def downgrade() -> None:
    op.drop_table("audit_log")
    op.drop_table("staff_setup_links")
    op.drop_table("staff_api_tokens")
    op.drop_table("staff_members")
