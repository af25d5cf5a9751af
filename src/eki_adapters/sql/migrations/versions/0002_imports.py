"""Import history and the import lock.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from eki_adapters.sql.tables import BigId, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_jobs",
        sa.Column("id", BigId, sa.Identity(), primary_key=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("file", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=False),
        sa.Column("failed_rows", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_import_jobs"),
    )
    op.create_index(
        "ix_import_jobs_kind_finished_at", "import_jobs", ["kind", sa.text("finished_at DESC")]
    )
    locks = op.create_table(
        "import_locks",
        sa.Column("name", sa.String(30), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_import_locks"),
    )
    op.bulk_insert(locks, [{"name": "imports"}])


def downgrade() -> None:
    op.drop_table("import_locks")
    op.drop_index("ix_import_jobs_kind_finished_at", table_name="import_jobs")
    op.drop_table("import_jobs")
