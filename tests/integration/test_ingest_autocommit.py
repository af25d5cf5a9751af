"""The webhook's usual delivery (one message, nothing else) is one self-committing
statement on PostgreSQL — no BEGIN/COMMIT round trips — and that mode never leaks into
the next unit of work on the same pooled connection."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql import SqlUnitOfWorkFactory, create_engine
from eki_adapters.sql.tables import inbound_messages, webhook_events
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Settings


def _message(n: int, now: object) -> IncomingMessage:
    return IncomingMessage(channel="meta", provider_id=f"wamid.AC{n}", wa_id="573001234567",
                           type=MessageType.TEXT, sent_at=now, text="hola")  # type: ignore[arg-type]


async def _count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_a_lone_delivery_is_stored_and_the_next_unit_of_work_is_a_transaction_again(
        database_url: str) -> None:
    engine = create_engine(database_url, pool_size=1, max_overflow=0)  # one connection, reused
    eki = await bootstrap(Settings(database_url=database_url), engine=engine)
    try:
        now = eki.clock.now()
        result = await eki.ingest.ingest(channel="meta", body="{}", statuses=(),
                                         messages=[_message(1, now)])
        assert (result.new_messages, await _count(engine, inbound_messages)) == (1, 1)
        # The same pooled connection: a unit of work that is rolled back leaves nothing.
        uow = SqlUnitOfWorkFactory(engine)
        async with uow() as work:
            await work.inbox.add_event(channel="meta", body="{}", received_at=now, note=None,
                                       messages=[_message(2, now)])  # not alone
            await work.rollback()
        async with uow() as work:
            await work.webhook_log.record(channel="meta", body="", signature_ok=True,
                                          received_at=now, note=None)
            # no commit: the unit of work ends by rolling back
        assert await _count(engine, inbound_messages) == 1
        assert await _count(engine, webhook_events) == 1
    finally:
        await eki.aclose()
        await engine.dispose()
