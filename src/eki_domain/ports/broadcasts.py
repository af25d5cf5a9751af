"""Ports of template broadcasts (issue #16): the broadcasts themselves, who an audience
reaches, and the consent check the privacy work plugs in (``uow.broadcasts``,
``uow.audiences``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Protocol

from eki_domain.model.broadcasts import Audience, Broadcast, Candidate, RecipientResult


class Broadcasts(Protocol):
    async def add(self, broadcast: Broadcast) -> Broadcast:
        """Store a new broadcast; its ``id`` is set."""
        ...

    async def save(self, broadcast: Broadcast) -> None: ...

    async def get(self, broadcast_id: int) -> Broadcast | None: ...

    async def recent(self, limit: int = 50) -> list[Broadcast]:
        """Newest first."""
        ...

    async def pending(self, now: datetime) -> list[int]:
        """Broadcasts with work to do: scheduled ones whose time came, and sending ones
        whose rows are not all queued yet or may have finished."""
        ...

    async def status_counts(self, broadcast_ids: Collection[int]
                            ) -> dict[int, dict[str, int]]:
        """For each broadcast, how many of its outbox rows are in each delivery status
        (one query for all; a broadcast without rows is absent)."""
        ...

    async def results(self, broadcast_id: int, limit: int) -> list[RecipientResult]:
        """Each recipient's outcome, in queueing order (at most ``limit``)."""
        ...

    async def hold(self, broadcast_id: int, until: datetime) -> int:
        """Its queued rows wait until ``until`` (paused)."""
        ...

    async def release(self, broadcast_id: int, now: datetime) -> int:
        """Its held rows are due again (resumed)."""
        ...

    async def cancel_rows(self, broadcast_id: int, code: str, now: datetime) -> int:
        """Its queued rows will never be sent: failed with ``code``."""
        ...


class AudienceSource(Protocol):
    async def candidates(self, audience: Audience) -> list[Candidate]:
        """Every student the audience's tags select (active or not) and, when it names
        guardians, one candidate per (guardian, selected student) link; each says whether
        its phone opted out and whether it is known to have no WhatsApp (one query)."""
        ...
