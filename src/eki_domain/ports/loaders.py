"""Single-item loaders: what a use case reads or writes for one student, behind a port.

Services ask for one student at a time. Throughput is the composition root's business:
``bootstrap`` wires implementations that serve the callers of one instant together
(``eki_adapters.batching``: one unit of work and one statement per kind of data for a whole
claim of conversations); :mod:`eki_domain.services.loaders` has plain ones (a unit of work
per call) for library users and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

import attrs

from eki_domain.model.messages import HistoryEntry, TurnEnd, WebhookDelivery
from eki_domain.model.progress import StudentRecordBook
from eki_domain.ports.llm import UsageRecord


@attrs.frozen
class ContextRequest:
    """What a conversation turn reads before its first model call."""

    student_id: int
    day: date  # the UTC day of the budgets
    history_limit: int = 0  # newest history entries wanted (0: none)
    tokens: bool = False  # the student's tokens on ``day``
    spend: bool = False  # everyone's spend on ``day``


@attrs.frozen
class TurnContext:
    """The answer to a :class:`ContextRequest`: the newest history entries (newest first);
    the tokens and the spend (0 when not asked; None when the usage ledger could not be read:
    the budgets are then not checked, the assistant fails open)."""

    entries: Sequence[HistoryEntry] = ()
    used_tokens: int | None = 0
    spent: float | None = 0.0


class TurnContextLoader(Protocol):
    async def load(self, request: ContextRequest) -> TurnContext:
        """Read the request; a history that cannot be read raises."""
        ...


class RecordBookLoader(Protocol):
    async def load(self, student_id: int) -> StudentRecordBook:
        """The student's record book (:meth:`ProgressRepository.record_book`)."""
        ...


class UsageRecorder(Protocol):
    async def record(self, records: Sequence[UsageRecord]) -> None:
        """Append model calls to the usage ledger; returns once they are committed."""
        ...


class DeliveryWriter(Protocol):
    async def store(self, delivery: WebhookDelivery) -> tuple[int, int]:
        """Store a signed delivery that brings messages only (no delivery reports): its
        event and its messages, committed when this returns; (event id, new messages)."""
        ...


class TurnEndWriter(Protocol):
    async def finish(self, end: TurnEnd) -> bool:
        """Record a turn that writes nothing but its replies, its batch one message: done,
        replies queued (ids set), committed when this returns; False: the claim was lost
        and nothing was written."""
        ...
