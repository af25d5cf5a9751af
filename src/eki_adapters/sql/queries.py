"""Statement helpers shared by the inbox, the outbox and the conversation tables."""

from __future__ import annotations

from collections.abc import Collection, Sequence
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


def abandoned_claims(table: Any, flag: Any, now: datetime,
                     live_owners: Collection[str] | None, *, lease_bounds_all: bool = False
                     ) -> Any:
    """Rows (``flag``: claimed) whose worker is gone: an owner not among ``live_owners``,
    or no owner (or ``live_owners`` None, or ``lease_bounds_all``) and the lease expired."""
    expired = table.c.lease_until < now
    if live_owners is None:
        return sa.and_(flag, expired)
    if lease_bounds_all:
        owned_dead = sa.and_(table.c.claimed_by.is_not(None),
                             table.c.claimed_by.not_in(sorted(live_owners)) if live_owners
                             else sa.true())
        return sa.and_(flag, sa.or_(expired, owned_dead))
    owned = table.c.claimed_by.is_not(None)
    dead = (table.c.claimed_by.not_in(sorted(live_owners)) if live_owners
            else sa.true())
    return sa.and_(flag, sa.or_(sa.and_(owned, dead), sa.and_(~owned, expired)))
