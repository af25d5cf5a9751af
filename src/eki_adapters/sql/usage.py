"""``SqlUsageLedger``: one row per model call; sums for budgets."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.tables import llm_usage
from eki_domain.ports.llm import UsageRecord


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


class SqlUsageLedger:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def record(self, usage: UsageRecord) -> None:
        await self._conn.execute(llm_usage.insert().values(
            at=usage.at, student_id=usage.student_id, model=usage.model[:100],
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens, cost_usd=usage.cost_usd,
            latency_ms=usage.latency_ms, outcome=usage.outcome[:30],
            tools=",".join(usage.tools)[:400] or None))

    async def tokens_for(self, student_id: int, day: date) -> int:
        start, end = _day_bounds(day)
        total = await self._conn.scalar(
            sa.select(sa.func.coalesce(
                sa.func.sum(llm_usage.c.prompt_tokens + llm_usage.c.completion_tokens), 0))
            .where(llm_usage.c.student_id == student_id, llm_usage.c.at >= start,
                   llm_usage.c.at < end))
        return int(total or 0)

    async def spend_on(self, day: date) -> float:
        start, end = _day_bounds(day)
        total = await self._conn.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(llm_usage.c.cost_usd), 0.0))
            .where(llm_usage.c.at >= start, llm_usage.c.at < end))
        return float(total or 0.0)
