"""Test databases: a migrated SQLite file per test, or a given database emptied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa

from eki_adapters.sql import create_engine
from eki_adapters.sql.tables import metadata
from eki_testing.harness import _run_sync, migrate

__all__ = ["empty_database", "migrate", "sqlite_copy", "sqlite_url"]

#: Tables holding data (everything but the fixed import-lock row), children first.
DATA_TABLES = tuple(t.name for t in reversed(metadata.sorted_tables)
                    if t.name != "import_locks")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_copy(template: Path, target: Path) -> str:
    """Copy a migrated SQLite file (migrating once per session is much faster)."""
    shutil.copyfile(template, target)
    return sqlite_url(target)


def empty_database(database_url: str) -> None:
    """Delete every student, message, grade and import from a migrated database.

    Only for databases that exist to be tested: nothing is kept."""

    async def run() -> None:
        engine = create_engine(database_url)
        try:
            async with engine.begin() as conn:
                if engine.dialect.name == "postgresql":
                    await conn.execute(sa.text(
                        f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE"))
                else:
                    for table in DATA_TABLES:
                        await conn.execute(sa.text(f"DELETE FROM {table}"))
        finally:
            await engine.dispose()

    _run_sync(run())
