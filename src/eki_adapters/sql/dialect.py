"""What differs between PostgreSQL and SQLite and is needed in several repositories."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def upsert_into(dialect_name: str, table: sa.Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing/do_update`` on this dialect (whose
    SQLAlchemy module is imported here: the engine has loaded it already, and the other
    dialect's is never needed)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)
