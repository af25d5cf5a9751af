"""Worker heartbeats: each worker process says now and then that it is alive, so a web
process (or a probe) can tell whether messages are being answered."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class WorkerHeartbeats(Protocol):
    async def beat(self, worker_id: str, started_at: datetime, now: datetime) -> None:
        """Record that ``worker_id`` is alive at ``now``."""
        ...

    async def latest(self) -> datetime | None:
        """When any worker last beat (None: never)."""
        ...

    async def alive_since(self, since: datetime) -> int:
        """How many workers beat at or after ``since``."""
        ...

    async def alive_ids(self, since: datetime) -> list[str]:
        """The workers that beat at or after ``since``."""
        ...

    async def forget(self, worker_id: str) -> None:
        """A worker stopped cleanly."""
        ...
