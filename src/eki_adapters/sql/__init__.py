"""SQL adapters (SQLAlchemy 2 asyncio): SQLite via aiosqlite, PostgreSQL via psycopg 3.

The names below are imported when first used (PEP 562): a program that needs the engine
alone does not load every repository."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eki_domain.lazy import lazy_exports

if TYPE_CHECKING:
    from eki_adapters.sql.engine import DatabaseUrlError, create_engine, to_async_url
    from eki_adapters.sql.migrate import current_revision, head_revision, is_at_head, upgrade
    from eki_adapters.sql.students import SqlStudentRepository
    from eki_adapters.sql.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

_EXPORTS: dict[str, tuple[str, ...]] = {
    "eki_adapters.sql.engine": ("DatabaseUrlError", "create_engine", "to_async_url"),
    "eki_adapters.sql.migrate": ("current_revision", "head_revision", "is_at_head", "upgrade"),
    "eki_adapters.sql.students": ("SqlStudentRepository",),
    "eki_adapters.sql.uow": ("SqlUnitOfWork", "SqlUnitOfWorkFactory"),
}


_WHERE, __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


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
