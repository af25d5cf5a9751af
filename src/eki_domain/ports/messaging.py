"""Storage ports of the message pipeline: inbox, outbox and conversation state."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from eki_domain.model.messages import (
    ClaimedBatch,
    HistoryEntry,
    IncomingMessage,
    OutboundMessage,
    StatusReport,
)
from eki_domain.model.pagination import Page, PageRequest


class Inbox(Protocol):
    async def add(self, messages: Sequence[IncomingMessage], received_at: datetime) -> int:
        """Store new messages; a provider id already stored is ignored. Returns how many
        were new."""
        ...

    async def add_event(self, *, channel: str, body: str, received_at: datetime,
                        note: str | None, messages: Sequence[IncomingMessage]) -> tuple[int, int]:
        """Store a signed webhook's raw event and its messages together (one round trip
        where the database allows): (event id, how many messages were new)."""
        ...

    async def claim(self, now: datetime, lease: timedelta, *,
                    channels: Sequence[str] | None = None) -> ClaimedBatch | None:
        """All pending messages of the sender whose oldest pending message is oldest,
        unless that sender's messages are already being answered. ``channels`` limits the
        claim to messages that came through those channels. None: nothing to do.
        (Expired claims come back through :meth:`recover_expired`.)"""
        ...

    async def claim_many(self, now: datetime, lease: timedelta, limit: int, *,
                         channels: Sequence[str] | None = None) -> list[ClaimedBatch]:
        """Like :meth:`claim` for up to ``limit`` senders at once (oldest first): one
        batch per sender. A worker that claims for all its turn runners this way keeps
        concurrent claimers few, so they do not queue on each other's row locks."""
        ...

    async def recover_expired(self, now: datetime) -> int:
        """Messages whose claim expired (their worker died) become pending again."""
        ...

    async def complete(self, batch: ClaimedBatch, now: datetime, *,
                       student_id: int | None, intent: str | None) -> bool:
        """Mark the batch done if the claim still holds (False: the lease was lost)."""
        ...

    async def release(self, batch: ClaimedBatch, now: datetime, *, retry_at: datetime,
                      max_attempts: int) -> None:
        """Give the batch back after an error: pending again at ``retry_at``, or failed
        after ``max_attempts``."""
        ...

    async def depth(self, now: datetime) -> tuple[int, float]:
        """(pending messages, age in seconds of the oldest pending one)."""
        ...


class Outbox(Protocol):
    async def enqueue(self, message: OutboundMessage) -> int: ...

    async def claim_due(self, now: datetime, lease: timedelta, limit: int, *,
                        channels: Sequence[str] | None = None) -> list[OutboundMessage]:
        """Queued messages whose time has come, oldest first, at most one per recipient
        (so parts of a long answer go out in order); marked ``sending``."""
        ...

    async def mark_sent(self, message_id: int, provider_id: str, now: datetime) -> None: ...

    async def mark_retry(self, message_id: int, *, error_code: str, error_title: str | None,
                         next_attempt_at: datetime) -> None: ...

    async def mark_failed(self, message_id: int, *, error_code: str, error_title: str | None,
                          now: datetime) -> None: ...

    async def apply_status(self, report: StatusReport, received_at: datetime) -> bool:
        """Record a delivery report and move the message forward (never back). Reports
        for ids not known yet are kept and applied when the id is recorded."""
        ...

    async def fail_abandoned(self, now: datetime) -> int:
        """Messages left ``sending`` by a crashed worker (lease expired, no id recorded)
        become failed ``DELIVERY_UNKNOWN``: resending could deliver them twice."""
        ...

    async def depth(self, now: datetime) -> tuple[int, float]: ...

    async def get(self, message_id: int) -> OutboundMessage | None: ...


class ConversationStore(Protocol):
    async def record_webhook(self, *, channel: str, body: str, signature_ok: bool,
                             received_at: datetime, note: str | None = None) -> int: ...

    async def is_opted_out(self, phone: str) -> bool: ...

    async def sender_states(
        self, senders: Sequence[tuple[str, int | None]]
    ) -> list[tuple[bool, bool]]:
        """(opted out, bot paused by an open hand-off) of each (phone, student id), in a
        constant number of look-ups."""
        ...

    async def opt_out(self, phone: str, student_id: int | None, at: datetime) -> None: ...

    async def opt_in(self, phone: str) -> bool: ...

    async def open_handoff(self, student_id: int, wa_id: str, at: datetime) -> bool:
        """Pause the bot for the student; False if a hand-off was already open."""
        ...

    async def has_open_handoff(self, student_id: int) -> bool: ...

    async def release_handoff(self, student_id: int, at: datetime, by: str) -> bool: ...

    async def open_handoffs(self) -> list[tuple[int, str, datetime]]:
        """(student id, wa_id, requested at) of every open hand-off, oldest first."""
        ...

    async def history(self, student_id: int, page: PageRequest) -> Page[HistoryEntry]:
        """Inbound and outbound messages of a student, newest first."""
        ...

    async def recent_history(self, student_id: int, limit: int) -> list[HistoryEntry]:
        """The newest ``limit`` entries of :meth:`history`, without counting the rest
        (the assistant's prompt needs only these)."""
        ...

    async def recent_history_each(self, student_ids: Sequence[int], limit: int
                                  ) -> dict[int, list[HistoryEntry]]:
        """:meth:`recent_history` of each student (every id is a key, [] when none), read
        together (the conversations a worker claims at once start together)."""
        ...
