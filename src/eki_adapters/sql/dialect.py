"""What differs between PostgreSQL and SQLite and is needed in several repositories."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def upsert_into(dialect_name: str, table: sa.Table) -> Any:
    """An INSERT that supports ``on_conflict_do_nothing/do_update`` on this dialect."""
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(table)
