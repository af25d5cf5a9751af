"""Webhooks of one instant stored together (issue 19, items 3–4) on memory, SQLite and
PostgreSQL: each delivery gets its own event id and the count of its new messages, in order,
as if stored one after the other; under a burst they share a handful of transactions; a
delivery the database refuses fails alone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from eki_adapters.loaders import BatchedDeliveryWriter
from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine
from eki_adapters.sql.tables import inbound_messages, webhook_events
from eki_domain.model.messages import IncomingMessage, MessageType, WebhookDelivery
from eki_domain.ports.repositories import UnitOfWorkFactory

T0 = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)


def message(n: int, wa_id: str = "573001112233", text: str = "hola") -> IncomingMessage:
    return IncomingMessage(channel="meta", provider_id=f"wamid.D{n}", wa_id=wa_id,
                           type=MessageType.TEXT, sent_at=T0 + timedelta(seconds=n),
                           text=text, profile_name="Ana", is_voice=n % 2 == 0)


def delivery(*messages: IncomingMessage, body: str = "{}") -> WebhookDelivery:
    return WebhookDelivery(channel="meta", body=body, received_at=T0, messages=messages)


async def test_each_delivery_gets_its_event_and_its_new_messages_in_order(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.inbox.add([message(1)], T0)  # seen before
        await uow.commit()
    async with uow_factory() as uow:
        stored = await uow.inbox.add_events([
            delivery(message(2, text='¿Cómo voy en "mate"?\n🙏 \\o/'),
                     message(3, "573009998877"), body='{"a": "ñ 🙏"}'),
            delivery(message(1), message(4)),  # a redelivery of 1, and a new one
            delivery(),  # no messages (e.g. a reaction that is not stored)
            delivery(message(4)),  # the same message in two deliveries: new for the first
        ], alone=True)
        await uow.commit()
    event_ids = [e for e, _ in stored]
    assert event_ids == sorted(event_ids) and len(set(event_ids)) == 4
    assert [n for _, n in stored] == [2, 1, 0, 0]
    async with uow_factory() as uow:
        depth, _ = await uow.inbox.depth(T0 + timedelta(minutes=1))
        batch = await uow.inbox.claim(T0 + timedelta(minutes=1), timedelta(minutes=2))
    assert depth == 4  # messages 1, 2, 3, 4 once each
    assert batch is not None and batch.wa_id == "573001112233"
    first = batch.items[0].message
    assert (first.provider_id, first.text, first.profile_name, first.sent_at) == (
        "wamid.D1", "hola", "Ana", T0 + timedelta(seconds=1))
    assert [i.message.is_voice for i in batch.items] == [False, True, True]
    assert batch.items[1].message.text == '¿Cómo voy en "mate"?\n🙏 \\o/'



async def test_a_burst_shares_transactions_and_nothing_is_lost(database_url: str) -> None:
    engine = create_engine(database_url)
    writer = BatchedDeliveryWriter(SqlUnitOfWorkFactory(engine), max_items=50)
    try:
        stored = await asyncio.gather(*(
            writer.store(delivery(message(n, f"57300{n:07d}"))) for n in range(120)))
        assert [n for _, n in stored] == [1] * 120
        assert len({e for e, _ in stored}) == 120
        assert writer.group.transactions < 120 // 2
        async with engine.connect() as conn:
            counted = [await conn.scalar(sa.select(sa.func.count()).select_from(t))
                       for t in (webhook_events, inbound_messages)]
        assert counted == [120, 120]
    finally:
        await engine.dispose()


async def test_a_refused_delivery_fails_alone(database_url: str) -> None:
    engine = create_engine(database_url)
    writer = BatchedDeliveryWriter(SqlUnitOfWorkFactory(engine))
    refused = WebhookDelivery(channel=None, body="{}", received_at=T0,  # type: ignore[arg-type]
                              messages=(message(2),))  # the log's channel is NOT NULL
    try:
        outcomes = await asyncio.gather(
            writer.store(delivery(message(1))), writer.store(refused),
            writer.store(delivery(message(3))), return_exceptions=True)
        assert [isinstance(o, Exception) for o in outcomes] == [False, True, False]
        async with engine.connect() as conn:
            ids = (await conn.execute(sa.select(inbound_messages.c.provider_id)
                                      .order_by(inbound_messages.c.provider_id))).scalars()
            assert list(ids) == ["wamid.D1", "wamid.D3"]
    finally:
        await engine.dispose()
