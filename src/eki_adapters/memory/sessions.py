"""Admin sign-in sessions and the generated secret key, in memory (one process)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from eki_domain.model.sessions import SessionRecord


class InMemorySessionStore:
    def __init__(self) -> None:
        self._sessions: dict[str, tuple[datetime, SessionRecord]] = {}
        self._secrets: dict[str, str] = {}

    async def add(self, id_hash: str, created_at: datetime, expires_at: datetime, *,
                  staff_id: int | None = None, epoch: int = 0) -> None:
        for key in [k for k, (e, _) in self._sessions.items() if e <= created_at]:
            del self._sessions[key]
        self._sessions[id_hash] = (expires_at, SessionRecord(staff_id=staff_id, epoch=epoch))

    async def get(self, id_hash: str, now: datetime) -> SessionRecord | None:
        found = self._sessions.get(id_hash)
        return found[1] if found is not None and found[0] > now else None

    async def active(self, id_hash: str, now: datetime) -> bool:
        return await self.get(id_hash, now) is not None

    async def revoke(self, id_hash: str) -> None:
        self._sessions.pop(id_hash, None)

    async def secret(self, name: str, make: Callable[[], str], now: datetime) -> str:
        return self._secrets.setdefault(name, make())
