"""Worker heartbeats kept in memory (one process: tests, library users)."""

from __future__ import annotations

from datetime import datetime


class InMemoryWorkerHeartbeats:
    def __init__(self) -> None:
        self._beats: dict[str, datetime] = {}

    async def beat(self, worker_id: str, started_at: datetime, now: datetime) -> None:
        self._beats[worker_id] = now

    async def latest(self) -> datetime | None:
        return max(self._beats.values(), default=None)

    async def alive_since(self, since: datetime) -> int:
        return sum(1 for at in self._beats.values() if at >= since)

    async def alive_ids(self, since: datetime) -> list[str]:
        return [worker for worker, at in self._beats.items() if at >= since]

    async def forget(self, worker_id: str) -> None:
        self._beats.pop(worker_id, None)
