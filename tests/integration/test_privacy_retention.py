"""The retention purge (issue 18): batches of at most 10,000 rows per transaction, a dry
run that only counts, daily counts that survive the raw rows, open sends never purged; on
PostgreSQL with 200,000 webhook rows."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql import tables as t
from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.model.privacy import PURGE_BATCH
from eki_domain.services.dashboard import DashboardService
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings

NOW = datetime(2026, 12, 6, 15, tzinfo=UTC)
OLD = NOW - timedelta(days=40)  # past the webhook (30 d) and the message (31 d) retention


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    settings = Settings(database_url=database_url, retention_message_days=31)
    app = await bootstrap(settings, channel=ConsoleChannel(name="meta"), clock=FixedClock(NOW))
    yield app
    await app.aclose()


async def _seed_messages(engine: AsyncEngine) -> None:
    """Old and recent conversation rows, usage, statuses and audit entries."""
    async with engine.begin() as conn:
        for n, at in enumerate([OLD, OLD, OLD + timedelta(days=1), NOW - timedelta(hours=1)]):
            await conn.execute(sa.insert(t.inbound_messages).values(
                channel="meta", provider_id=f"wamid.{n}", wa_id="573001112233", type="text",
                text="hola", raw="{}", sent_at=at, received_at=at, state="done",
                available_at=at))
            await conn.execute(sa.insert(t.outbound_messages).values(
                channel="meta", to_wa_id="573001112233", body="respuesta", status="read",
                next_attempt_at=at, created_at=at, updated_at=at))
            await conn.execute(sa.insert(t.llm_usage).values(
                at=at, model="gpt-4o-mini", prompt_tokens=100, completion_tokens=10,
                cached_tokens=0, cost_usd=0.001, latency_ms=500, outcome="ok"))
            await conn.execute(sa.insert(t.message_statuses).values(
                channel="meta", provider_id=f"wamid.out{n}", status="read", at=at,
                recipient="573001112233", raw="{}", received_at=at, applied=True))
        # A send still queued since then: never purged (it has not left yet).
        await conn.execute(sa.insert(t.outbound_messages).values(
            channel="meta", to_wa_id="573001112233", body="pendiente", status="queued",
            next_attempt_at=OLD, created_at=OLD, updated_at=OLD))
        for at in (NOW - timedelta(days=2000), NOW - timedelta(days=10)):
            await conn.execute(sa.insert(t.audit_log).values(
                at=at, actor="eki", action="student.viewed", details="{}"))


async def _count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_dry_run_counts_and_the_purge_keeps_daily_counts(eki: Eki) -> None:
    engine = eki.engine
    assert engine is not None
    await _seed_messages(engine)
    async with engine.begin() as conn:
        await conn.execute(sa.insert(t.webhook_events), [
            {"channel": "meta", "received_at": at, "signature_ok": True, "body": "{}"}
            for at in [OLD] * 25 + [NOW - timedelta(days=29)] * 3])
    board_before = await DashboardService(eki.uow, eki.clock).overview()

    dry = await eki.privacy.purge(dry_run=True)
    assert dict(dry.counts) == {"webhook_events": 25, "message_statuses": 3,
                                "inbound_messages": 3, "outbound_messages": 3,
                                "llm_usage": 3, "audit_log": 1}
    assert await _count(engine, t.webhook_events) == 28  # a dry run deletes nothing

    report = await eki.privacy.purge(batch=10)  # small batches: 3 for the webhooks
    assert dict(report.counts) == dict(dry.counts)
    assert report.batches == 3 + 5
    assert await _count(engine, t.webhook_events) == 3
    assert await _count(engine, t.inbound_messages) == 1
    assert await _count(engine, t.outbound_messages) == 2  # the recent one and the queued one
    assert await _count(engine, t.audit_log) == 2  # the recent one and the purge's own entry
    async with engine.connect() as conn:
        days = {row.day: row for row in await conn.execute(
            sa.select(t.daily_counts).order_by(t.daily_counts.c.day))}
        purged = (await conn.execute(sa.select(t.audit_log.c.details).where(
            t.audit_log.c.action == "privacy.purged"))).scalar_one()
    assert {d: (r.inbound, r.outbound, r.llm_calls, r.llm_tokens) for d, r in days.items()} == {
        OLD.date(): (2, 2, 2, 220), (OLD + timedelta(days=1)).date(): (1, 1, 1, 110)}
    assert "webhook_events=25" in purged
    # What the dashboard shows (the last 30 days) is what it showed before.
    board_after = await DashboardService(eki.uow, eki.clock).overview()
    assert board_after.inbound == board_before.inbound
    assert board_after.usage_month == board_before.usage_month
    # Purging again finds nothing.
    assert (await eki.privacy.purge()).total == 0


@pytest.mark.postgres
async def test_purging_200k_webhook_rows_in_batches_on_postgresql(eki: Eki) -> None:
    engine = eki.engine
    assert engine is not None
    if engine.dialect.name != "postgresql":
        pytest.skip("the large purge runs on PostgreSQL")
    async with engine.begin() as conn:
        await conn.execute(sa.text(
            "INSERT INTO webhook_events (channel, received_at, signature_ok, body) "
            "SELECT 'meta', CAST(:old AS timestamptz) - g * interval '1 second', true, "
            "'{\"entry\": [{\"from\": \"5730011' || lpad(g::text, 5, '0') || '\"}]}' "
            "FROM generate_series(1, 200000) AS g"), {"old": OLD})
        await conn.execute(sa.insert(t.webhook_events), [
            {"channel": "meta", "received_at": NOW, "signature_ok": True, "body": "{}"}] * 5)
    dry = await eki.privacy.purge(dry_run=True)
    assert dry.counts["webhook_events"] == 200_000
    started = time.perf_counter()
    report = await eki.privacy.purge()
    elapsed = time.perf_counter() - started
    assert report.counts["webhook_events"] == 200_000
    # 20 full batches of 10,000 and one that finds nothing left, then one per other table.
    assert report.batches == 200_000 // PURGE_BATCH + 1 + 5
    assert await _count(engine, t.webhook_events) == 5
    print(f"purged 200,000 webhook rows in {elapsed:.2f} s")


async def test_a_webhook_retention_of_zero_keeps_nothing(database_url: str) -> None:
    settings = Settings(database_url=database_url, retention_webhook_days=0)
    app = await bootstrap(settings, channel=ConsoleChannel(name="meta"),
                          clock=FixedClock(NOW))
    try:
        assert app.engine is not None
        async with app.engine.begin() as conn:
            await conn.execute(sa.insert(t.webhook_events).values(
                channel="meta", received_at=NOW - timedelta(seconds=1), signature_ok=True,
                body="{}"))
        assert (await app.privacy.purge()).counts["webhook_events"] == 1
    finally:
        await app.aclose()


async def test_the_worker_purges_on_its_own(eki: Eki) -> None:
    from eki_entrypoints.worker import PURGE_DELAY, PURGE_EVERY, PipelineWorker

    assert (PURGE_DELAY, PURGE_EVERY) == (300.0, 86400.0)
    engine = eki.engine
    assert engine is not None
    async with engine.begin() as conn:
        await conn.execute(sa.insert(t.webhook_events).values(
            channel="meta", received_at=OLD, signature_ok=True, body="{}"))
    worker = PipelineWorker(eki, concurrency=1, poll_interval=0.05)
    worker.purge_delay = 0.05
    await worker.start()
    try:
        for _ in range(200):
            if await _count(engine, t.webhook_events) == 0:
                break
            await asyncio.sleep(0.05)
    finally:
        await worker.stop()
    assert await _count(engine, t.webhook_events) == 0
