"""Admin sign-in sessions and the generated secret key, in the database (tables
``admin_sessions`` and ``eki_secrets``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.tables import admin_sessions, eki_secrets
from eki_domain.model.sessions import SessionRecord


class SqlSessionStore:
    """Sessions by the sha256 of their random id; expired rows are deleted as new ones
    are added."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, id_hash: str, created_at: datetime, expires_at: datetime, *,
                  staff_id: int | None = None, epoch: int = 0) -> None:
        s = admin_sessions
        async with self._engine.begin() as conn:
            await conn.execute(s.delete().where(s.c.expires_at <= created_at))
            await conn.execute(s.insert().values(id_hash=id_hash, created_at=created_at,
                                                 expires_at=expires_at, staff_id=staff_id,
                                                 session_epoch=epoch))

    async def get(self, id_hash: str, now: datetime) -> SessionRecord | None:
        s = admin_sessions
        async with self._engine.connect() as conn:
            row = (await conn.execute(sa.select(s.c.staff_id, s.c.session_epoch).where(
                s.c.id_hash == id_hash, s.c.expires_at > now))).first()
        if row is None:
            return None
        return SessionRecord(staff_id=None if row.staff_id is None else int(row.staff_id),
                             epoch=int(row.session_epoch))

    async def active(self, id_hash: str, now: datetime) -> bool:
        return await self.get(id_hash, now) is not None

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
