"""Admin sessions belong to a person: ``staff_id`` (NULL = a break-glass sign-in with
EKI_ADMIN_TOKEN) and the ``session_epoch`` of the account when the session opened (a
session is void once the account's epoch moved on: disabled, new role, new password).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("admin_sessions") as batch:
        batch.add_column(sa.Column("staff_id", sa.BigInteger().with_variant(sa.Integer(),
                                                                            "sqlite"),
                                   nullable=True))
        batch.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False,
                                   server_default="0"))
    op.create_index("ix_admin_sessions_staff_id", "admin_sessions", ["staff_id"])


def downgrade() -> None:
    op.drop_index("ix_admin_sessions_staff_id", table_name="admin_sessions")
    with op.batch_alter_table("admin_sessions") as batch:
        batch.drop_column("session_epoch")
        batch.drop_column("staff_id")
