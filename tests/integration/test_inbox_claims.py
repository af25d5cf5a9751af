"""Claiming several senders at once (the worker's claimer) on memory, SQLite and PostgreSQL:
oldest sender first, one batch per sender, busy senders wait, and concurrent claimers never
share a sender or a message."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from eki_domain.model.messages import ClaimedBatch, IncomingMessage, MessageType
from eki_domain.ports.repositories import UnitOfWorkFactory
from eki_domain.services.conversation import sender_states

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def message(n: int, wa_id: str, *, second: int) -> IncomingMessage:
    return IncomingMessage(channel="meta", provider_id=f"wamid.{n}", wa_id=wa_id,
                           type=MessageType.TEXT, sent_at=T0 + timedelta(seconds=second),
                           text=f"mensaje {n}")


async def add(uow_factory: UnitOfWorkFactory, *messages: IncomingMessage) -> None:
    async with uow_factory() as uow:
        await uow.inbox.add(messages, T0 + timedelta(minutes=1))
        await uow.commit()


async def claim(uow_factory: UnitOfWorkFactory, limit: int) -> list[ClaimedBatch]:
    async with uow_factory() as uow:
        batches = await uow.inbox.claim_many(T0 + timedelta(minutes=1), LEASE, limit)
        await uow.commit()
    return batches


async def test_claims_oldest_senders_first_one_batch_each(uow_factory: UnitOfWorkFactory
                                                          ) -> None:
    await add(uow_factory,
              message(1, "573000000002", second=5), message(2, "573000000001", second=1),
              message(3, "573000000003", second=9), message(4, "573000000001", second=7))
    batches = await claim(uow_factory, 2)
    assert [b.wa_id for b in batches] == ["573000000001", "573000000002"]
    assert [i.message.provider_id for i in batches[0].items] == ["wamid.2", "wamid.4"]
    assert [i.message.provider_id for i in batches[1].items] == ["wamid.1"]
    rest = await claim(uow_factory, 10)
    assert [b.wa_id for b in rest] == ["573000000003"]
    assert await claim(uow_factory, 10) == []


async def test_a_busy_sender_waits_and_each_batch_completes_alone(
        uow_factory: UnitOfWorkFactory) -> None:
    await add(uow_factory, message(1, "573000000001", second=1),
              message(2, "573000000002", second=2))
    first, second = await claim(uow_factory, 5)
    # Ana writes again while her turn runs: not claimable until that turn is done.
    await add(uow_factory, message(3, "573000000001", second=3))
    assert await claim(uow_factory, 5) == []
    now = T0 + timedelta(minutes=1)
    async with uow_factory() as uow:
        # Completing one sender's batch leaves the other (same claim) in flight.
        assert await uow.inbox.complete(first, now, student_id=None, intent="saludo")
        await uow.commit()
    again = await claim(uow_factory, 5)
    assert [(b.wa_id, [i.message.provider_id for i in b.items]) for b in again] == [
        ("573000000001", ["wamid.3"])]
    async with uow_factory() as uow:
        assert await uow.inbox.complete(second, now, student_id=None, intent="saludo")
        assert not await uow.inbox.complete(first, now, student_id=None, intent="saludo")
        await uow.commit()


async def test_release_gives_back_only_that_sender(uow_factory: UnitOfWorkFactory) -> None:
    await add(uow_factory, message(1, "573000000001", second=1),
              message(2, "573000000002", second=2))
    first, second = await claim(uow_factory, 5)
    async with uow_factory() as uow:
        await uow.inbox.release(first, T0, retry_at=T0, max_attempts=5)
        await uow.commit()
    again = await claim(uow_factory, 5)
    assert [b.wa_id for b in again] == ["573000000001"]
    assert again[0].items[0].attempts == 1
    async with uow_factory() as uow:
        assert await uow.inbox.complete(second, T0, student_id=None, intent=None)
        await uow.commit()


async def test_concurrent_claimers_never_share_a_sender(uow_factory: UnitOfWorkFactory
                                                        ) -> None:
    senders = [f"5730000{n:05d}" for n in range(60)]
    await add(uow_factory, *(message(n * 3 + k, wa_id, second=n * 3 + k)
                             for n, wa_id in enumerate(senders) for k in range(3)))

    async def claimer() -> list[ClaimedBatch]:
        got: list[ClaimedBatch] = []
        while batch := await claim(uow_factory, 7):
            got.extend(batch)
        return got

    results = await asyncio.gather(*(claimer() for _ in range(6)))
    claimed = [b for result in results for b in result]
    assert Counter(b.wa_id for b in claimed) == Counter(senders)  # each sender exactly once
    messages = [i.message.provider_id for b in claimed for i in b.items]
    assert len(messages) == len(set(messages)) == 180


async def test_sender_states_of_many_senders_at_once(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.opt_outs.opt_out("+573000000001", None, T0)
        await uow.handoffs.open_handoff(42, "573000000002", T0)
        await uow.commit()
    async with uow_factory() as uow:
        states = await sender_states(uow, [
            ("+573000000001", None), ("+573000000002", 42), ("+573000000003", 7),
            ("+573000000001", 42)])
        assert await sender_states(uow, []) == []
    assert states == [(True, False), (False, True), (False, False), (True, True)]


async def test_depth_counts_pending_and_in_flight_messages(uow_factory: UnitOfWorkFactory
                                                           ) -> None:
    now = T0 + timedelta(minutes=3)
    async with uow_factory() as uow:
        assert await uow.inbox.depth(now) == (0, 0.0)
    await add(uow_factory, message(1, "573000000001", second=1),
              message(2, "573000000001", second=2), message(3, "573000000002", second=3))
    (first,) = await claim(uow_factory, 1)  # two messages in flight, one pending
    async with uow_factory() as uow:
        assert await uow.inbox.depth(now) == (3, 120.0)
        assert await uow.inbox.complete(first, now, student_id=None, intent=None)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.inbox.depth(now) == (1, 120.0)
