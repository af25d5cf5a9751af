"""Ports of the staff inbox (issue #15): notes and system events of a thread, quick replies,
and the read model of the inbox list and of one thread.

Each is a property of the unit of work (``uow.inbox_notes``, ``uow.quick_replies``,
``uow.inbox_views``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from eki_domain.model.inbox import Activity, InboxNote, QuickReply, ThreadItem


class InboxNotes(Protocol):
    async def add(self, note: InboxNote) -> int:
        """Store the note or system event; its id."""
        ...

    async def for_student(self, student_id: int, since: datetime | None = None
                          ) -> list[InboxNote]:
        """Notes and events of the student (at or after ``since``), oldest first."""
        ...


class QuickReplies(Protocol):
    async def list(self) -> list[QuickReply]:
        """Every saved answer, by shortcut."""
        ...

    async def save(self, reply: QuickReply) -> bool:
        """Add or replace the answer of ``reply.shortcut``; True when it was new."""
        ...

    async def delete(self, shortcut: str) -> bool: ...


class InboxViews(Protocol):
    async def activity(self, student_ids: Sequence[int], reader: str
                       ) -> dict[int, Activity]:
        """The list's figures of each student (every id is a key); ``unread`` counts the
        inbound messages after ``reader`` last opened the conversation."""
        ...

    async def recent_students(self, since: datetime, any_tags: frozenset[str] | None,
                              limit: int) -> list[int]:
        """Students who wrote since ``since`` (newest first), within ``any_tags``."""
        ...

    async def pending_inbound(self, since: datetime, limit: int
                              ) -> list[tuple[str, datetime, datetime, str | None, str]]:
        """(wa_id, received at, sent at, text, type) of inbound messages received since
        ``since`` that no turn has attributed to a student yet (the worker has not finished
        them), oldest first, at most ``limit``."""
        ...

    async def opted_out_at(self, phone: str) -> datetime | None:
        """When ``phone`` (E.164) asked not to be written to (None: it did not)."""
        ...

    async def mark_seen(self, reader: str, student_id: int, at: datetime) -> None:
        """``reader`` opened the conversation at ``at`` (its messages are read)."""
        ...

    async def thread(self, student_id: int, limit: int) -> list[ThreadItem]:
        """The newest ``limit`` inbound and outbound messages of the student, oldest
        first, with the outbound author, template and failure."""
        ...

    async def handoff_spans(self, student_id: int, since: datetime
                            ) -> list[tuple[datetime, datetime | None, str | None]]:
        """(requested at, released at, released by) of the student's hand-offs requested
        since ``since``, oldest first."""
        ...

    async def first_responses(self, since: datetime
                              ) -> list[tuple[int, datetime, datetime | None, datetime | None]]:
        """(student id, requested at, released at, first staff message at) of every
        hand-off requested since ``since``; the first message is None when nobody of the
        school wrote during the hand-off."""
        ...
