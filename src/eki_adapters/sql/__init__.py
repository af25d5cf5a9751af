"""SQL adapters (SQLAlchemy 2 asyncio): SQLite via aiosqlite, PostgreSQL via psycopg 3."""

from __future__ import annotations

from eki_adapters.sql.engine import DatabaseUrlError, create_engine, to_async_url
from eki_adapters.sql.migrate import current_revision, head_revision, is_at_head, upgrade
from eki_adapters.sql.students import SqlStudentRepository
from eki_adapters.sql.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

__all__ = [
    "DatabaseUrlError",
    "SqlStudentRepository",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "create_engine",
    "current_revision",
    "head_revision",
    "is_at_head",
    "to_async_url",
    "upgrade",
]
