"""Worker heartbeats in the database (one row per worker process)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.tables import worker_heartbeats

#: Rows of workers silent for this long are deleted (crashed processes leave theirs).
FORGET_AFTER = timedelta(days=1)


class SqlWorkerHeartbeats:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def beat(self, worker_id: str, started_at: datetime, now: datetime) -> None:
        h = worker_heartbeats
        insert = upsert_into(self._engine.dialect.name, h).values(
            worker_id=worker_id, started_at=started_at, beat_at=now)
        async with self._engine.begin() as conn:
            await conn.execute(insert.on_conflict_do_update(
                index_elements=[h.c.worker_id], set_={"beat_at": now}))
            await conn.execute(h.delete().where(h.c.beat_at < now - FORGET_AFTER))

    async def latest(self) -> datetime | None:
        async with self._engine.connect() as conn:
            value = await conn.scalar(sa.select(worker_heartbeats.c.beat_at)
                                      .order_by(worker_heartbeats.c.beat_at.desc()).limit(1))
        return value

    async def alive_since(self, since: datetime) -> int:
        h = worker_heartbeats
        async with self._engine.connect() as conn:
            count = await conn.scalar(sa.select(sa.func.count()).where(h.c.beat_at >= since))
        return int(count or 0)

    async def alive_ids(self, since: datetime) -> list[str]:
        h = worker_heartbeats
        async with self._engine.connect() as conn:
            rows = await conn.scalars(sa.select(h.c.worker_id).where(h.c.beat_at >= since))
            return list(rows)

    async def forget(self, worker_id: str) -> None:
        h = worker_heartbeats
        async with self._engine.begin() as conn:
            await conn.execute(h.delete().where(h.c.worker_id == worker_id))
