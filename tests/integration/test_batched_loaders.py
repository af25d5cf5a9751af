"""The batched loaders ``bootstrap`` wires (eki_adapters.loaders) on every backend: callers
of one instant share a unit of work, and each gets what the plain loader would give it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from eki_adapters.loaders import BatchedRecordBooks, BatchedTurnContext, BatchedUsageRecorder
from eki_domain import PhoneNumber, Student
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.ports.llm import UsageRecord
from eki_domain.ports.loaders import ContextRequest
from eki_domain.services.loaders import UowRecordBooks, UowTurnContext

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


class Counting:
    """A unit-of-work factory that counts the units of work it makes."""

    def __init__(self, factory: UnitOfWorkFactory) -> None:
        self.factory = factory
        self.opened = 0

    def __call__(self) -> Any:
        self.opened += 1
        return self.factory()


def usage(student_id: int, tokens: int) -> UsageRecord:
    return UsageRecord(at=NOW, student_id=student_id, model="gpt-4o-mini",
                       prompt_tokens=tokens, completion_tokens=0, cached_tokens=0,
                       cost_usd=0.001, latency_ms=10, outcome="ok")


async def _seed(uow_factory: UnitOfWorkFactory) -> list[int]:
    ids = []
    async with uow_factory() as uow:
        for i, name in enumerate(("Ana", "Beto", "Caro")):
            student = await uow.students.add(Student.register(
                name, PhoneNumber.parse(f"+57300123456{i}"), registered_at=NOW))
            assert student.id is not None
            ids.append(student.id)
        await uow.inbox.add([IncomingMessage(
            channel="meta", provider_id=f"wamid.{i}", wa_id="573001234560",
            type=MessageType.TEXT, sent_at=NOW + timedelta(seconds=i), text=f"hola {i}")
            for i in range(3)], NOW)
        await uow.usage.record(usage(ids[0], 300), usage(ids[1], 50))
        await uow.commit()
    return ids


async def test_turns_starting_together_read_their_contexts_from_one_unit_of_work(
        uow_factory: UnitOfWorkFactory) -> None:
    ids = await _seed(uow_factory)
    counting = Counting(uow_factory)
    batched = BatchedTurnContext(counting)  # type: ignore[arg-type]
    requests = [ContextRequest(sid, NOW.date(), history_limit=4, tokens=True, spend=True)
                for sid in [*ids, *ids] * 5]
    contexts = await asyncio.gather(*(batched.load(r) for r in requests))
    assert counting.opened == 1  # one read for all 30 turns
    plain = UowTurnContext(uow_factory)
    for request, context in zip(requests, contexts, strict=True):
        assert context == await plain.load(request)
    assert [c.used_tokens for c in contexts[:3]] == [300, 50, 0]
    assert contexts[0].spent == 0.002


async def test_reports_asked_together_read_their_books_together(
        uow_factory: UnitOfWorkFactory) -> None:
    ids = await _seed(uow_factory)
    counting = Counting(uow_factory)
    batched = BatchedRecordBooks(counting)  # type: ignore[arg-type]
    wanted = [ids[0], ids[1], ids[0], ids[2]]
    books = await asyncio.gather(*(batched.load(sid) for sid in wanted))
    assert counting.opened == 1  # one unit of work, each student once
    assert batched.group.keys == 3
    plain = UowRecordBooks(uow_factory)
    assert books == [await plain.load(sid) for sid in wanted]


async def test_turns_ending_together_share_the_ledger_transaction(
        uow_factory: UnitOfWorkFactory) -> None:
    ids = await _seed(uow_factory)
    counting = Counting(uow_factory)
    recorder = BatchedUsageRecorder(counting)  # type: ignore[arg-type]
    await asyncio.gather(*(recorder.record([usage(ids[i % 3], 10)]) for i in range(20)))
    assert counting.opened <= 2  # the first caller's transaction, then everyone else's
    async with uow_factory() as uow:
        assert await uow.usage.tokens_for(ids[2], NOW.date()) == 6 * 10
