"""A turn's end (issue 19 item 4) on memory, SQLite and PostgreSQL: the batch is marked done
and the answer's parts are queued together — on PostgreSQL in one statement, self-committing
when the unit of work writes nothing else — or, when the claim was lost, nothing is queued;
a dispatched batch records what was sent in one step, statuses that raced ahead included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine
from eki_adapters.sql.tables import inbound_messages, outbound_messages
from eki_domain.model.messages import (
    ClaimedBatch,
    DeliveryStatus,
    IncomingMessage,
    MessageType,
    OutboundMessage,
    StatusReport,
)
from eki_domain.ports.repositories import UnitOfWorkFactory

T0 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
ANA = "573001112233"


def incoming(n: int, wa_id: str = ANA) -> IncomingMessage:
    return IncomingMessage(channel="meta", provider_id=f"wamid.T{n}", wa_id=wa_id,
                           type=MessageType.TEXT, sent_at=T0 + timedelta(seconds=n),
                           text=f"mensaje {n}")


def parts(batch: ClaimedBatch, *bodies: str) -> list[OutboundMessage]:
    last = batch.items[-1]
    return [OutboundMessage(to=batch.wa_id, body=body, created_at=T0, inbound_id=last.id,
                            reply_to=last.message.provider_id if index == 0 else None,
                            mark_read=last.message.provider_id if index == 0 else None,
                            intent="progreso", tools=("get_progress",))
            for index, body in enumerate(bodies)]


async def claimed(uow_factory: UnitOfWorkFactory, *messages: IncomingMessage) -> ClaimedBatch:
    async with uow_factory() as uow:
        await uow.inbox.add(messages, T0)
        batch = await uow.inbox.claim(T0, LEASE)
        await uow.commit()
    assert batch is not None
    return batch


async def test_the_batch_is_done_and_every_part_queued_in_order(
        uow_factory: UnitOfWorkFactory) -> None:
    batch = await claimed(uow_factory, incoming(1), incoming(2))
    replies = parts(batch, "Parte 1", 'Parte "2"\n🙏', "Parte 3")
    async with uow_factory() as uow:
        assert await uow.inbox.complete(batch, T0, student_id=None, intent="progreso",
                                        replies=replies)
        await uow.commit()
    ids = [m.id for m in replies]
    assert all(i is not None for i in ids) and ids == sorted(ids)
    async with uow_factory() as uow:
        stored = [await uow.outbox.get(i) for i in ids if i is not None]
        assert await uow.inbox.depth(T0) == (0, 0.0)
        # One recipient: the parts go out one at a time, in order.
        first = await uow.outbox.claim_due(T0, LEASE, 10)
    assert [(m.body if m else None) for m in stored] == ["Parte 1", 'Parte "2"\n🙏', "Parte 3"]
    assert [(m.reply_to, m.mark_read) for m in stored if m] == [
        ("wamid.T2", "wamid.T2"), (None, None), (None, None)]
    assert {(m.to, m.intent, m.tools, m.inbound_id, m.status) for m in stored if m} == {
        (ANA, "progreso", ("get_progress",), batch.items[-1].id, DeliveryStatus.QUEUED)}
    assert [m.body for m in first] == ["Parte 1"]


async def test_a_lost_claim_queues_nothing(uow_factory: UnitOfWorkFactory) -> None:
    batch = await claimed(uow_factory, incoming(1))
    lost = ClaimedBatch(wa_id=batch.wa_id, items=batch.items, token="not-the-claim",
                        lease_until=batch.lease_until)
    replies = parts(lost, "Hola")
    async with uow_factory() as uow:
        assert not await uow.inbox.complete(lost, T0, student_id=None, intent="saludo",
                                            replies=replies, alone=True)
        await uow.rollback()
    assert replies[0].id is None
    async with uow_factory() as uow:
        assert await uow.outbox.depth(T0) == (0, 0.0)
        # The real claim still holds and completes.
        assert await uow.inbox.complete(batch, T0, student_id=None, intent="saludo",
                                        replies=parts(batch, "Hola"), alone=True)
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.outbox.depth(T0))[0] == 1


async def test_a_turn_without_replies_still_completes(uow_factory: UnitOfWorkFactory) -> None:
    batch = await claimed(uow_factory, incoming(1))
    async with uow_factory() as uow:
        assert await uow.inbox.complete(batch, T0, student_id=None, intent=None, alone=True)
        assert not await uow.inbox.complete(batch, T0, student_id=None, intent=None)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.inbox.depth(T0) == (0, 0.0)
        assert await uow.outbox.depth(T0) == (0, 0.0)


async def test_a_batch_of_sends_is_recorded_at_once_with_statuses_that_raced_ahead(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        ids = [await uow.outbox.enqueue(OutboundMessage(to=f"5730000000{n}", body=f"m{n}",
                                                        created_at=T0)) for n in range(3)]
        await uow.commit()
    async with uow_factory() as uow:
        assert len(await uow.outbox.claim_due(T0, LEASE, 10)) == 3
        # A fast channel: the "delivered" report of the second row arrived before its id
        # was recorded.
        await uow.outbox.apply_status(StatusReport(
            channel="meta", provider_id="wamid.OUT1", status=DeliveryStatus.DELIVERED,
            at=T0), T0)
        await uow.outbox.mark_sent_many(
            [(i, f"wamid.OUT{n}") for n, i in enumerate(ids)], T0)
        await uow.commit()
    async with uow_factory() as uow:
        stored = [await uow.outbox.get(i) for i in ids]
    assert [(m.status, m.provider_id) for m in stored if m] == [
        (DeliveryStatus.SENT, "wamid.OUT0"), (DeliveryStatus.DELIVERED, "wamid.OUT1"),
        (DeliveryStatus.SENT, "wamid.OUT2")]


async def test_a_self_committing_turn_end_leaves_the_pooled_connection_transactional(
        database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)  # one connection, reused
    uow = SqlUnitOfWorkFactory(engine)
    try:
        batch = await claimed(uow, incoming(1))
        async with uow() as work:
            assert await work.inbox.complete(batch, T0, student_id=None, intent="saludo",
                                             replies=parts(batch, "Hola"), alone=True)
            await work.commit()
        # The same connection next: what a rolled-back unit of work wrote is gone.
        async with uow() as work:
            await work.outbox.enqueue(OutboundMessage(to=ANA, body="borrador", created_at=T0))
            await work.inbox.add([incoming(9)], T0)
            await work.rollback()
        async with engine.connect() as conn:
            bodies = (await conn.execute(sa.select(outbound_messages.c.body))).scalars().all()
            states = (await conn.execute(sa.select(inbound_messages.c.state))).scalars().all()
        assert (list(bodies), list(states)) == (["Hola"], ["done"])
    finally:
        await engine.dispose()
