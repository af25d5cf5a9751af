"""A turn's end (issue 19 item 4) on memory, SQLite and PostgreSQL: the batch is marked done
and the answer's parts are queued together — on PostgreSQL in one statement, self-committing
when the unit of work writes nothing else — or, when the claim was lost, nothing is queued;
a dispatched batch records what was sent in one step, statuses that raced ahead included."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from eki_adapters.loaders import BatchedTurnEndWriter
from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine
from eki_adapters.sql.tables import inbound_messages, outbound_messages
from eki_domain.model.messages import (
    ClaimedBatch,
    DeliveryStatus,
    IncomingMessage,
    MessageType,
    OutboundMessage,
    StatusReport,
    TurnEnd,
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


async def test_every_field_of_a_reply_is_stored_as_the_outbox_stores_it(
        uow_factory: UnitOfWorkFactory) -> None:
    """A staff member's answer with a template in the turn's end: on PostgreSQL the same
    single statement, written from the outbox's own row (author, template, language,
    parameters and purpose kept)."""
    import attrs

    from eki_domain.model.messages import Purpose

    batch = await claimed(uow_factory, incoming(1))
    (reply,) = parts(batch, "Hola")
    reply = attrs.evolve(reply, author="ana@colegio.edu.co", template="seguimiento",
                         template_language="es_CO", template_params=("Ana", "mate"),
                         purpose=Purpose.STAFF)
    async with uow_factory() as uow:
        assert await uow.inbox.complete(batch, T0, student_id=None, intent="humano",
                                        replies=[reply], alone=True)
        await uow.commit()
    assert reply.id is not None
    async with uow_factory() as uow:
        stored = await uow.outbox.get(reply.id)
    assert stored is not None
    assert (stored.author, stored.template, stored.template_language,
            tuple(stored.template_params), stored.purpose, stored.body) == (
        "ana@colegio.edu.co", "seguimiento", "es_CO", ("Ana", "mate"), Purpose.STAFF, "Hola")


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


async def test_turns_ending_together_are_recorded_together(
        uow_factory: UnitOfWorkFactory) -> None:
    batches = [await claimed(uow_factory, incoming(n, f"57300000000{n}")) for n in range(4)]
    lost = ClaimedBatch(wa_id=batches[2].wa_id, items=batches[2].items, token="taken-over",
                        lease_until=batches[2].lease_until)
    ends = [TurnEnd(batch=b, at=T0, student_id=None, intent="saludo",
                    replies=tuple(parts(b, f"Hola {n}", "¿Algo más? 🙂") if n != 3 else ()))
            for n, b in enumerate((batches[0], batches[1], lost, batches[3]))]
    async with uow_factory() as uow:
        assert await uow.inbox.complete_many(ends, alone=True) == [True, True, False, True]
        await uow.commit()
    assert [m.id is not None for e in ends for m in e.replies] == [True, True, True, True,
                                                                  False, False]
    async with uow_factory() as uow:
        stored = [await uow.outbox.get(m.id) for e in ends[:2] for m in e.replies
                  if m.id is not None]
        # The lost claim's message is still claimed by its real owner; nothing else waits.
        assert (await uow.inbox.depth(T0))[0] == 1
    assert [(m.to, m.body, m.inbound_id) for m in stored if m] == [
        (batches[0].wa_id, "Hola 0", batches[0].items[0].id),
        (batches[0].wa_id, "¿Algo más? 🙂", batches[0].items[0].id),
        (batches[1].wa_id, "Hola 1", batches[1].items[0].id),
        (batches[1].wa_id, "¿Algo más? 🙂", batches[1].items[0].id)]


async def test_a_burst_of_turn_ends_shares_transactions(database_url: str) -> None:
    engine = create_engine(database_url)
    uow = SqlUnitOfWorkFactory(engine)
    writer = BatchedTurnEndWriter(uow, max_items=25)
    try:
        batches = [await claimed(uow, incoming(n, f"5730{n:08d}")) for n in range(60)]
        ends = [TurnEnd(batch=b, at=T0, student_id=None, intent="saludo",
                        replies=tuple(parts(b, "Hola"))) for b in batches]
        assert await asyncio.gather(*(writer.finish(e) for e in ends)) == [True] * 60
        assert writer.group.transactions < 60 // 2
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.select(outbound_messages.c.inbound_id,
                                                 outbound_messages.c.id))).all()
        assert sorted(r.inbound_id for r in rows) == sorted(b.items[0].id for b in batches)
        assert {r.id for r in rows} == {e.replies[0].id for e in ends}
    finally:
        await engine.dispose()


async def test_a_batch_half_taken_over_queues_nothing_and_rolls_back(database_url: str) -> None:
    engine = create_engine(database_url)
    uow = SqlUnitOfWorkFactory(engine)
    try:
        batch = await claimed(uow, incoming(1), incoming(2))
        async with engine.begin() as conn:  # another worker holds one of the two now
            await conn.execute(inbound_messages.update()
                               .where(inbound_messages.c.id == batch.items[1].id)
                               .values(claim_token="someone-else"))
        async with uow() as work:
            assert not await work.inbox.complete(batch, T0, student_id=None, intent="saludo",
                                                 replies=parts(batch, "Hola"))
            await work.rollback()
        async with engine.connect() as conn:
            assert await conn.scalar(sa.select(sa.func.count())
                                     .select_from(outbound_messages)) == 0
            states = (await conn.execute(sa.select(inbound_messages.c.state)
                                         .order_by(inbound_messages.c.id))).scalars().all()
        assert list(states) == ["processing", "processing"]
    finally:
        await engine.dispose()
