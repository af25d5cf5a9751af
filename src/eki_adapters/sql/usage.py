"""``SqlUsageLedger``: one row per model call; sums for budgets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.tables import llm_usage
from eki_domain.ports.llm import UsageRecord


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


# Built once: these run on every model call and every AI turn.
_RECORD = llm_usage.insert().values({
    name: sa.bindparam(name, type_=llm_usage.c[name].type)
    for name in ("at", "student_id", "model", "prompt_tokens", "completion_tokens",
                 "cached_tokens", "cost_usd", "latency_ms", "outcome", "tools")})
_START = sa.bindparam("start", type_=llm_usage.c.at.type)
_END = sa.bindparam("end", type_=llm_usage.c.at.type)
_TOKENS_FOR_EACH = (
    sa.select(llm_usage.c.student_id,
              sa.func.sum(llm_usage.c.prompt_tokens + llm_usage.c.completion_tokens))
    .where(llm_usage.c.student_id.in_(sa.bindparam("sids", expanding=True)),
           llm_usage.c.at >= _START, llm_usage.c.at < _END)
    .group_by(llm_usage.c.student_id))
_SPEND_ON = (
    sa.select(sa.func.coalesce(sa.func.sum(llm_usage.c.cost_usd), 0.0))
    .where(llm_usage.c.at >= _START, llm_usage.c.at < _END))


class SqlUsageLedger:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def record(self, *usage: UsageRecord) -> None:
        if not usage:
            return
        rows = [{
            "at": u.at, "student_id": u.student_id, "model": u.model[:100],
            "prompt_tokens": u.prompt_tokens, "completion_tokens": u.completion_tokens,
            "cached_tokens": u.cached_tokens, "cost_usd": u.cost_usd,
            "latency_ms": u.latency_ms, "outcome": u.outcome[:30],
            "tools": ",".join(u.tools)[:400] or None} for u in usage]
        # One row: a plain INSERT; several: one executemany (a single round trip on
        # PostgreSQL, psycopg pipelines it).
        await self._conn.execute(_RECORD, rows[0] if len(rows) == 1 else rows)

    async def tokens_for(self, student_id: int, day: date) -> int:
        return (await self.tokens_for_each([student_id], day))[student_id]

    async def tokens_for_each(self, student_ids: Sequence[int], day: date) -> dict[int, int]:
        wanted = list(dict.fromkeys(student_ids))
        if not wanted:
            return {}
        start, end = _day_bounds(day)
        used = {int(sid): int(total or 0) for sid, total in await self._conn.execute(
            _TOKENS_FOR_EACH, {"sids": wanted, "start": start, "end": end})}
        return {sid: used.get(sid, 0) for sid in wanted}

    async def spend_on(self, day: date) -> float:
        start, end = _day_bounds(day)
        total = await self._conn.scalar(_SPEND_ON, {"start": start, "end": end})
        return float(total or 0.0)
