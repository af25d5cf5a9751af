"""Admin sign-in sessions and the generated secret key, in memory (one process)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime


class InMemorySessionStore:
    def __init__(self) -> None:
        self._sessions: dict[str, datetime] = {}
        self._secrets: dict[str, str] = {}

    async def add(self, id_hash: str, created_at: datetime, expires_at: datetime) -> None:
        for key in [k for k, e in self._sessions.items() if e <= created_at]:
            del self._sessions[key]
        self._sessions[id_hash] = expires_at

    async def active(self, id_hash: str, now: datetime) -> bool:
        expires = self._sessions.get(id_hash)
        return expires is not None and expires > now

    async def revoke(self, id_hash: str) -> None:
        self._sessions.pop(id_hash, None)

    async def secret(self, name: str, make: Callable[[], str], now: datetime) -> str:
        return self._secrets.setdefault(name, make())
