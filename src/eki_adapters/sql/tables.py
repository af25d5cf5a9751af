"""The schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` create it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use timezone-aware UTC")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - defensive, SQLite type affinity
            value = datetime.fromisoformat(value)
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


# BigInteger ids on Postgres, INTEGER PRIMARY KEY (rowid) on SQLite.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

students = sa.Table(
    "students",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("phone", sa.String(16), nullable=False, unique=True),
    sa.Column("wa_id", sa.String(20), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("registered_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Index("ix_students_active_registered_at", "active", sa.text("registered_at DESC")),
    sa.Index("ix_students_registered_at", sa.text("registered_at DESC")),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("id", BigId, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(50), nullable=False, unique=True),
)

student_tags = sa.Table(
    "student_tags",
    metadata,
    # No foreign keys on purpose: PostgreSQL checks them with one trigger call per row,
    # ~1.1 s per 100,000 imported tag assignments (half the import). EKI never deletes
    # tags, and whoever deletes a student deletes its student_tags rows in the same
    # transaction (SqlStudentRepository does).
    sa.Column("student_id", BigId, primary_key=True),
    sa.Column("tag_id", BigId, primary_key=True),
    sa.Index("ix_student_tags_tag_id_student_id", "tag_id", "student_id"),
)

import_jobs = sa.Table(
    "import_jobs",
    metadata,
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
    # JSON {"headers": [...], "rows": [[row, [cells...], "errors"], ...]} for the errors file
    sa.Column("failed_rows", sa.Text(), nullable=True),
    sa.Index("ix_import_jobs_kind_finished_at", "kind", sa.text("finished_at DESC")),
)

# One row per kind of import; a transaction that updates it holds the import lock
# on SQLite (PostgreSQL uses an advisory lock instead).
import_locks = sa.Table(
    "import_locks",
    metadata,
    sa.Column("name", sa.String(30), primary_key=True),
    sa.Column("acquired_at", UTCDateTime(), nullable=True),
)
