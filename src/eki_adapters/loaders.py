"""The loader ports (:mod:`eki_domain.ports.loaders`) served in batches, for ``bootstrap``.

Callers of one instant share a unit of work (:mod:`eki_adapters.batching`): the turns a
worker claims together read their histories and budgets with one statement per kind of data
(``History.recent_each``, ``UsageLedger.tokens_for_each``), the progress tool's record books
come together (``ProgressRepository.record_books``), and the model calls of turns ending
together are written in one transaction. The ``*_each`` reads are adapter APIs (SQL and
memory implement them), not domain ports: the domain only ever asks for one student.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import date
from typing import Generic, Protocol, TypeVar

from eki_adapters.batching import GroupCommit, GroupLoad, GroupWrite
from eki_domain.model.messages import HistoryEntry, TurnEnd, WebhookDelivery
from eki_domain.model.progress import StudentRecordBook
from eki_domain.ports.conversations import History
from eki_domain.ports.llm import UsageLedger, UsageRecord
from eki_domain.ports.loaders import ContextRequest, TurnContext
from eki_domain.ports.progress import ProgressRepository
from eki_domain.ports.repositories import UnitOfWork

log = logging.getLogger("eki.assistant")

K = TypeVar("K")
V = TypeVar("V")


class BatchHistory(History, Protocol):
    async def recent_each(self, student_ids: Sequence[int], limit: int
                          ) -> dict[int, list[HistoryEntry]]:
        """``recent`` of each student (every id is a key, [] when none), read together."""
        ...


class BatchUsage(UsageLedger, Protocol):
    async def tokens_for_each(self, student_ids: Sequence[int], day: date) -> dict[int, int]:
        """``tokens_for`` of each student (every id is a key, 0 when none)."""
        ...


class BatchProgress(ProgressRepository, Protocol):
    async def record_books(self, student_ids: Sequence[int]
                           ) -> dict[int, StudentRecordBook]:
        """``record_book`` of each student (every id is a key), read together."""
        ...


class BatchingUnitOfWork(UnitOfWork, Protocol):
    """A unit of work whose adapter also reads in batches (``SqlUnitOfWork``,
    ``InMemoryUnitOfWork``): what ``bootstrap`` needs to wire the batched loaders."""

    @property
    def history(self) -> BatchHistory:
        """The history, with its batch read."""
        ...

    @property
    def usage(self) -> BatchUsage:
        """The usage ledger, with its batch read."""
        ...

    @property
    def progress(self) -> BatchProgress:
        """The record books, with their batch read."""
        ...


BatchingUnitOfWorkFactory = Callable[[], BatchingUnitOfWork]
Factory = BatchingUnitOfWorkFactory


class _BatchedLoader(Generic[K, V]):
    """``load(key)`` through a :class:`GroupLoad` of ``read``."""

    def __init__(self, uow: Factory,
                 read: Callable[[BatchingUnitOfWork, Sequence[K]], Awaitable[Mapping[K, V]]],
                 max_keys: int) -> None:
        self.group: GroupLoad[BatchingUnitOfWork, K, V] = GroupLoad(uow, read,
                                                                   max_keys=max_keys)

    async def load(self, key: K) -> V:
        return await self.group.load(key)


class BatchedTurnContext(_BatchedLoader[ContextRequest, TurnContext]):
    """:class:`~eki_domain.ports.loaders.TurnContextLoader`: the requests of one instant are
    read from one unit of work."""

    def __init__(self, uow: Factory, *, max_keys: int = 500) -> None:
        super().__init__(uow, _read_contexts, max_keys)


async def _read_contexts(uow: BatchingUnitOfWork, requests: Sequence[ContextRequest]
                         ) -> dict[ContextRequest, TurnContext]:
    groups: dict[tuple[date, int, bool, bool], list[int]] = {}
    for r in requests:
        groups.setdefault((r.day, r.history_limit, r.tokens, r.spend), []).append(r.student_id)
    histories: dict[tuple[date, int, bool, bool], Mapping[int, Sequence[HistoryEntry]]] = {}
    for key, ids in groups.items():  # histories first: a failed ledger read ends the
        histories[key] = (await uow.history.recent_each(ids, key[1])  # PostgreSQL transaction
                          if key[1] > 0 else {})
    found: dict[ContextRequest, TurnContext] = {}
    for key, ids in groups.items():
        day, limit, tokens, spend = key
        used: Mapping[int, int] | None = {}
        spent: float | None = 0.0
        try:
            if tokens:
                used = await uow.usage.tokens_for_each(ids, day)
            if spend:
                spent = await uow.usage.spend_on(day)
        except Exception:
            # Fail open: a broken ledger must not silence the assistant.
            log.exception("could not read the usage ledger; budgets not checked")
            used, spent = None, None
        for sid in ids:
            found[ContextRequest(sid, day, limit, tokens, spend)] = TurnContext(
                entries=histories[key].get(sid, ()),
                used_tokens=None if used is None else used.get(sid, 0), spent=spent)
    return found


class BatchedRecordBooks(_BatchedLoader[int, StudentRecordBook]):
    """:class:`~eki_domain.ports.loaders.RecordBookLoader`: the books asked for at one
    moment are read together."""

    def __init__(self, uow: Factory, *, max_keys: int = 500) -> None:
        super().__init__(uow, _read_books, max_keys)


async def _read_books(uow: BatchingUnitOfWork, student_ids: Sequence[int]
                      ) -> dict[int, StudentRecordBook]:
    return await uow.progress.record_books(student_ids)


class BatchedUsageRecorder:
    """:class:`~eki_domain.ports.loaders.UsageRecorder`: the records of turns ending
    together share a transaction; ``record`` returns once its records are committed."""

    def __init__(self, uow: Factory, *, max_items: int = 1000) -> None:
        self.group: GroupCommit[BatchingUnitOfWork, UsageRecord] = GroupCommit(
            uow, _write_usage, max_items=max_items)

    async def record(self, records: Sequence[UsageRecord]) -> None:
        await self.group.submit(records)


async def _write_usage(uow: BatchingUnitOfWork, records: Sequence[UsageRecord]) -> None:
    await uow.usage.record(*records)


class BatchedDeliveryWriter:
    """:class:`~eki_domain.ports.loaders.DeliveryWriter`: the webhooks of one instant are
    stored with one statement (PostgreSQL), self-committing — under a burst of deliveries one
    round trip for many instead of one each; a lone delivery is written at once. ``store``
    returns once its delivery is committed; a delivery the database refuses fails alone.
    One statement carries at most ``max_bytes`` of webhook bodies (a delivery may be a few
    MB, and each message also keeps its part of the body)."""

    def __init__(self, uow: Factory, *, max_items: int = 200,
                 max_bytes: int = 8 * 1024 * 1024) -> None:
        self.group: GroupWrite[BatchingUnitOfWork, WebhookDelivery, tuple[int, int]] = (
            GroupWrite(uow, _write_deliveries, max_items=max_items,
                       weight=_delivery_bytes, max_weight=max_bytes))

    async def store(self, delivery: WebhookDelivery) -> tuple[int, int]:
        return await self.group.submit(delivery)


def _delivery_bytes(delivery: WebhookDelivery) -> int:
    return len(delivery.body)


async def _write_deliveries(uow: BatchingUnitOfWork, deliveries: Sequence[WebhookDelivery]
                            ) -> list[tuple[int, int]]:
    return await uow.inbox.add_events(deliveries, alone=True)


class BatchedTurnEndWriter:
    """:class:`~eki_domain.ports.loaders.TurnEndWriter`: the turns that end in one instant
    are recorded with one statement (PostgreSQL), self-committing; a lone turn at once; a
    turn the database refuses fails alone."""

    def __init__(self, uow: Factory, *, max_items: int = 200) -> None:
        self.group: GroupWrite[BatchingUnitOfWork, TurnEnd, bool] = (
            GroupWrite(uow, _write_turn_ends, max_items=max_items))

    async def finish(self, end: TurnEnd) -> bool:
        return await self.group.submit(end)


async def _write_turn_ends(uow: BatchingUnitOfWork, ends: Sequence[TurnEnd]) -> list[bool]:
    return await uow.inbox.complete_many(ends, alone=True)
