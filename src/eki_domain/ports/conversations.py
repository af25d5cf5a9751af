"""Conversation state, one small port per concern.

- :class:`WebhookLog` — the raw deliveries the channels posted (kept for audits and replays);
- :class:`OptOuts` — who asked not to be written to (BAJA/STOP) and who came back;
- :class:`Handoffs` — conversations a person of the school took over (the bot is paused);
- :class:`History` — what a student and EKI said to each other.

Each is a property of the unit of work (``uow.webhook_log``, ``uow.opt_outs``,
``uow.handoffs``, ``uow.history``); a use case depends only on the ones it uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from eki_domain.model.messages import HistoryEntry
from eki_domain.model.pagination import Page, PageRequest


class WebhookLog(Protocol):
    async def record(self, *, channel: str, body: str, signature_ok: bool,
                     received_at: datetime, note: str | None = None) -> int:
        """Keep one webhook delivery as received; return its id."""
        ...


class OptOuts(Protocol):
    async def opted_out_among(self, phones: Sequence[str]) -> set[str]:
        """The E.164 phones of ``phones`` that opted out (one look-up for all of them)."""
        ...

    async def opt_out(self, phone: str, student_id: int | None, at: datetime) -> None:
        """Stop writing to ``phone`` (already opted out: unchanged)."""
        ...

    async def opt_in(self, phone: str) -> bool:
        """Write to ``phone`` again; False if it had not opted out."""
        ...


class Handoffs(Protocol):
    async def paused_among(self, student_ids: Sequence[int]) -> set[int]:
        """The students of ``student_ids`` with an open hand-off (one look-up)."""
        ...

    async def open_handoff(self, student_id: int, wa_id: str, at: datetime) -> bool:
        """Pause the bot for the student; False if a hand-off was already open."""
        ...

    async def has_open_handoff(self, student_id: int) -> bool: ...

    async def release_handoff(self, student_id: int, at: datetime, by: str) -> bool:
        """Give the conversation back to the bot; False if none was open."""
        ...

    async def open_handoffs(self) -> list[tuple[int, str, datetime]]:
        """(student id, wa_id, requested at) of every open hand-off, oldest first."""
        ...


class History(Protocol):
    async def page(self, student_id: int, page: PageRequest) -> Page[HistoryEntry]:
        """Inbound and outbound messages of a student, newest first."""
        ...

    async def recent(self, student_id: int, limit: int) -> list[HistoryEntry]:
        """The newest ``limit`` entries of :meth:`page`, without counting the rest (the
        assistant's prompt needs only these)."""
        ...
