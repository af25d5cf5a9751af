"""Run Alembic migrations programmatically over an async engine.

Alembic itself is imported only when a migration really has to run: checking the
revision is one SELECT, which keeps every CLI command and server start fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: The newest revision in migrations/versions (a test checks it against Alembic's view).
SCHEMA_HEAD = "0015"


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return SCHEMA_HEAD


def alembic_head_revision() -> str | None:
    """The head as Alembic computes it from the migration scripts (slow: imports Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema revision recorded in ``alembic_version``; None for an empty database."""
    async with engine.connect() as conn:
        try:
            version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
        except (OperationalError, ProgrammingError) as exc:
            if _is_missing_table(exc):
                return None
            raise
    return None if version is None else str(version)


def _is_missing_table(exc: DBAPIError) -> bool:
    text = str(exc.orig).lower()
    return "no such table" in text or "does not exist" in text or "undefined" in text


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Bring the schema to ``revision``; return (before, after) revisions."""
    before = await current_revision(engine)
    if revision == "head" and before == SCHEMA_HEAD:
        return before, before
    from alembic import command

    def _upgrade(connection: Connection) -> None:
        command.upgrade(_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(_upgrade)
    return before, await current_revision(engine)


async def is_at_head(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == SCHEMA_HEAD
