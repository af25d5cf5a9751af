"""Statement helpers shared by the inbox, the outbox and the conversation tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa


def insert_of(table: sa.Table, columns: Sequence[str]) -> Any:
    """An INSERT of ``columns`` with typed bind parameters named after them (built once)."""
    return table.insert().values(
        {name: sa.bindparam(name, type_=table.c[name].type) for name in columns})


def channel_filter(table: Any, filtered: bool) -> sa.ColumnElement[bool]:
    """``channel IN :channels`` when ``filtered``, else always true."""
    if not filtered:
        return sa.true()
    column: sa.ColumnElement[str] = table.c.channel
    return column.in_(sa.bindparam("channels", expanding=True))


def as_datetime(value: Any) -> datetime:
    """min() over a UTCDateTime column skips the type's result processing on SQLite."""
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
