"""In-memory usage ledger: records are staged until the unit of work commits (a rolled
back turn leaves none, as in SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date

from eki_domain.ports.llm import UsageRecord


class InMemoryUsageLedger:
    def __init__(self, records: list[UsageRecord]) -> None:
        self._committed = records  # shared with the store
        self._staged: list[UsageRecord] = []

    @property
    def _records(self) -> list[UsageRecord]:
        """What this unit of work sees: the committed records and its own."""
        return [*self._committed, *self._staged] if self._staged else self._committed

    def apply(self) -> None:
        self._committed.extend(self._staged)
        self._staged.clear()

    def discard(self) -> None:
        self._staged.clear()

    async def record(self, *usage: UsageRecord) -> None:
        self._staged.extend(usage)

    async def tokens_for(self, student_id: int, day: date) -> int:
        return sum(r.prompt_tokens + r.completion_tokens for r in self._records
                   if r.student_id == student_id and r.at.astimezone(UTC).date() == day)

    async def tokens_for_each(self, student_ids: Sequence[int], day: date) -> dict[int, int]:
        return {sid: await self.tokens_for(sid, day) for sid in dict.fromkeys(student_ids)}

    async def spend_on(self, day: date) -> float:
        return sum(r.cost_usd for r in self._records if r.at.astimezone(UTC).date() == day)
