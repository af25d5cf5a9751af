"""Plain loaders over a unit-of-work factory: one unit of work per call.

They implement the ports of :mod:`eki_domain.ports.loaders` for library users, tests and
the CLI; ``bootstrap`` wires the batched ones of ``eki_adapters.batching`` instead, which
serve every caller of an instant from one unit of work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date
from typing import Protocol

from eki_domain.model.messages import TurnEnd, WebhookDelivery
from eki_domain.model.progress import StudentRecordBook
from eki_domain.ports.llm import UsageRecord
from eki_domain.ports.loaders import ContextRequest, TurnContext
from eki_domain.ports.messaging import Inbox
from eki_domain.ports.repositories import Transaction, UnitOfWork

log = logging.getLogger("eki.assistant")


async def read_budgets(uow: UnitOfWork, student_ids: Sequence[int], day: date, *,
                       tokens: bool, spend: bool
                       ) -> tuple[dict[int, int] | None, float | None]:
    """Tokens of each student and the day's spend, as asked (0 when not asked); (None, None)
    when the usage ledger cannot be read (logged: budgets are then not checked). Read it
    last: on PostgreSQL a failed statement ends the transaction."""
    used: dict[int, int] = {sid: 0 for sid in student_ids}
    spent = 0.0
    try:
        if tokens:
            for sid in used:
                used[sid] = await uow.usage.tokens_for(sid, day)
        if spend:
            spent = await uow.usage.spend_on(day)
    except Exception:
        # Fail open: a broken ledger must not silence the assistant.
        log.exception("could not read the usage ledger; budgets not checked")
        return None, None
    return used, spent


class UowTurnContext:
    """:class:`~eki_domain.ports.loaders.TurnContextLoader`: one unit of work per turn."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def load(self, request: ContextRequest) -> TurnContext:
        sid = request.student_id
        async with self._uow() as uow:
            entries = (await uow.history.recent(sid, request.history_limit)
                       if request.history_limit > 0 else [])
            used, spent = await read_budgets(uow, [sid], request.day, tokens=request.tokens,
                                             spend=request.spend)
        return TurnContext(entries=entries, used_tokens=None if used is None else used[sid],
                           spent=spent)


class UowRecordBooks:
    """:class:`~eki_domain.ports.loaders.RecordBookLoader`: one unit of work per book."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def load(self, student_id: int) -> StudentRecordBook:
        async with self._uow() as uow:
            return await uow.progress.record_book(student_id)


class UowUsageRecorder:
    """:class:`~eki_domain.ports.loaders.UsageRecorder`: one transaction per call."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def record(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        async with self._uow() as uow:
            await uow.usage.record(*records)
            await uow.commit()


class UowDeliveryWriter:
    """:class:`~eki_domain.ports.loaders.DeliveryWriter`: one unit of work per delivery."""

    def __init__(self, uow: Callable[[], UnitOfWork]) -> None:
        self._uow = uow

    async def store(self, delivery: WebhookDelivery) -> tuple[int, int]:
        async with self._uow() as uow:
            stored = await uow.inbox.add_event(
                channel=delivery.channel, body=delivery.body,
                received_at=delivery.received_at, note=delivery.note,
                messages=delivery.messages, alone=True)
            await uow.commit()
        return stored


class TurnEndUnitOfWork(Transaction, Protocol):
    """What :class:`UowTurnEndWriter` needs of a unit of work."""

    @property
    def inbox(self) -> Inbox: ...


class UowTurnEndWriter:
    """:class:`~eki_domain.ports.loaders.TurnEndWriter`: one unit of work per turn."""

    def __init__(self, uow: Callable[[], TurnEndUnitOfWork]) -> None:
        self._uow = uow

    async def finish(self, end: TurnEnd) -> bool:
        async with self._uow() as uow:
            done = await uow.inbox.complete(end.batch, end.at, student_id=end.student_id,
                                            intent=end.intent, replies=end.replies,
                                            alone=True)
            if done:
                await uow.commit()
            else:
                await uow.rollback()
        return done
