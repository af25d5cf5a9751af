"""Admin sign-in sessions and the generated secret key, in the database (tables
``admin_sessions`` and ``eki_secrets``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.tables import admin_sessions, eki_secrets


class SqlSessionStore:
    """Sessions by the sha256 of their random id; expired rows are deleted as new ones
    are added."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, id_hash: str, created_at: datetime, expires_at: datetime) -> None:
        s = admin_sessions
        async with self._engine.begin() as conn:
            await conn.execute(s.delete().where(s.c.expires_at <= created_at))
            await conn.execute(s.insert().values(id_hash=id_hash, created_at=created_at,
                                                 expires_at=expires_at))

    async def active(self, id_hash: str, now: datetime) -> bool:
        s = admin_sessions
        async with self._engine.connect() as conn:
            found = await conn.scalar(sa.select(sa.literal(1)).where(
                s.c.id_hash == id_hash, s.c.expires_at > now))
        return found is not None

    async def revoke(self, id_hash: str) -> None:
        async with self._engine.begin() as conn:
            await conn.execute(admin_sessions.delete().where(
                admin_sessions.c.id_hash == id_hash))

    async def secret(self, name: str, make: Callable[[], str], now: datetime) -> str:
        """The stored secret ``name``, created with ``make()`` the first time (the first of
        several processes to store it wins; the others read its value)."""
        k = eki_secrets
        async with self._engine.begin() as conn:
            await conn.execute(upsert_into(self._engine.dialect.name, k)
                               .values(name=name, value=make(), created_at=now)
                               .on_conflict_do_nothing(index_elements=[k.c.name]))
            value = await conn.scalar(sa.select(k.c.value).where(k.c.name == name))
        return str(value)
