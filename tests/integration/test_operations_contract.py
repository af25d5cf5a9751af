"""One contract for the dashboard's read model (``uow.operations``) and the dashboard
service: memory, SQLite and PostgreSQL give the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql import SqlUnitOfWorkFactory
from eki_adapters.system import FixedClock
from eki_domain import PageRequest, PhoneNumber, Student
from eki_domain.model.messages import (
    DeliveryStatus,
    IncomingMessage,
    MessageType,
    OutboundMessage,
    StatusReport,
)
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.ports.llm import UsageRecord
from eki_domain.services.dashboard import DashboardService

NOW = datetime(2026, 3, 10, 15, 40, tzinfo=UTC)
HOUR = NOW.replace(minute=0)


def incoming(provider_id: str, wa_id: str, at: datetime) -> IncomingMessage:
    return IncomingMessage(channel="meta", provider_id=provider_id, wa_id=wa_id,
                           type=MessageType.TEXT, sent_at=at, text="hola")


async def seed(uow_factory: UnitOfWorkFactory) -> dict[str, int]:
    """Two hours of traffic: 15:xx has two messages (one answered after 4 s, one after
    10 s), 13:xx one message answered after 2 s with tools; one message from a stranger;
    a failed delivery (131026), model calls, students, webhook events."""
    async with uow_factory() as uow:
        ana = await uow.students.add(Student.register(
            "Ana", PhoneNumber.parse("+573001234567"), registered_at=NOW - timedelta(days=3)))
        beto = await uow.students.add(Student.register(
            "Beto", PhoneNumber.parse("+573001234568"), registered_at=NOW - timedelta(days=2),
            active=False))
        moved = Student.register("Caro", PhoneNumber.parse("+573001234569"),
                                 registered_at=NOW - timedelta(days=1))
        await uow.students.add(moved)
        moved.flag_number_change("573110000000", NOW - timedelta(hours=1))
        await uow.students.save(moved)
        assert ana.id and beto.id
        received = [
            (incoming("w1", "573001234567", HOUR + timedelta(minutes=5)),
             HOUR + timedelta(minutes=5)),
            (incoming("w2", "573001234567", HOUR + timedelta(minutes=20)),
             HOUR + timedelta(minutes=20)),
            (incoming("w3", "573001234567", HOUR - timedelta(hours=2)),
             HOUR - timedelta(hours=2)),
            (incoming("w4", "573999999999", HOUR - timedelta(hours=2)),
             HOUR - timedelta(hours=2)),
            (incoming("old", "573001234567", NOW - timedelta(days=3)),
             NOW - timedelta(days=3)),
        ]
        for message, at in received:
            await uow.inbox.add([message], at)
        await uow.commit()

    # Answer them the way the worker does: claim, queue the replies, complete.
    answers = {"w1": (4.0, ana.id, (), DeliveryStatus.READ),
               "w2": (10.0, ana.id, (), DeliveryStatus.FAILED),
               "w3": (2.0, ana.id, ("get_my_progress",), DeliveryStatus.DELIVERED),
               "w4": (1.0, None, (), None)}
    claim_at = NOW - timedelta(days=4)
    while True:
        async with uow_factory() as uow:
            batch = await uow.inbox.claim(NOW + timedelta(days=1), timedelta(minutes=1))
            if batch is None:
                break
            for item in batch.items:
                if item.message.provider_id == "old":
                    continue
                delay, student_id, tools, _final = answers[item.message.provider_id]
                at = next(a for m, a in received if m.provider_id == item.message.provider_id)
                await uow.outbox.enqueue(OutboundMessage(
                    to=item.message.wa_id, body="respuesta", created_at=at + timedelta(
                        seconds=delay), student_id=student_id, inbound_id=item.id,
                    tools=tools))
            sid = ana.id if batch.wa_id == "573001234567" else None
            await uow.inbox.complete(batch, claim_at, student_id=sid, intent="x")
            await uow.commit()

    while True:  # one message per recipient at a time, like the dispatcher
        async with uow_factory() as uow:
            due = await uow.outbox.claim_due(NOW + timedelta(days=1), timedelta(minutes=1), 10)
            for message in due:
                assert message.id is not None
                await uow.outbox.mark_sent(message.id, f"out-{message.id}", NOW)
            await uow.commit()
        if not due:
            break
    async with uow_factory() as uow:
        history = await uow.history.page(ana.id, PageRequest(limit=50))
        outs = sorted((e for e in history.items if e.direction == "out"), key=lambda e: e.at)
        # w3 (13:00 + 2 s) → delivered, w1 (15:05 + 4 s) → read, w2 (15:20 + 10 s) → failed
        for entry, status in zip(outs, (DeliveryStatus.DELIVERED, DeliveryStatus.READ,
                                        DeliveryStatus.FAILED), strict=True):
            await uow.outbox.apply_status(StatusReport(
                channel="meta", provider_id=entry.provider_id or "", status=status, at=NOW,
                error_code="131026" if status is DeliveryStatus.FAILED else None,
                error_title="Message undeliverable" if status is DeliveryStatus.FAILED
                else None), NOW)
        for minutes, outcome, tools, cost, student in (
                (10, "ok", ("get_my_progress",), 0.002, ana.id),
                (20, "ok", (), 0.001, ana.id),
                (30, "timeout", (), 0.0, ana.id),
                (60 * 26, "ok", (), 0.004, beto.id)):
            await uow.usage.record(UsageRecord(
                at=NOW - timedelta(minutes=minutes), student_id=student, model="m",
                prompt_tokens=100, completion_tokens=50, cached_tokens=0, cost_usd=cost,
                latency_ms=500, outcome=outcome, tools=tools))
        await uow.webhook_log.record(channel="meta", body='{"a": 1}',
                                               signature_ok=True, received_at=NOW)
        await uow.webhook_log.record(channel="meta", body="", signature_ok=False,
                                               received_at=NOW + timedelta(seconds=1),
                                               note="firma inválida")
        await uow.webhook_log.record(channel="twilio", body="x=1",
                                               signature_ok=True,
                                               received_at=NOW + timedelta(seconds=2))
        await uow.commit()
    return {"ana": ana.id, "beto": beto.id}


async def test_traffic_by_hour(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    async with uow_factory() as uow:
        hours = await uow.operations.traffic_by_hour(NOW - timedelta(hours=24),
                                                     HOUR + timedelta(hours=1))
    assert [h.start for h in hours] == [HOUR - timedelta(hours=2), HOUR]
    early, late = hours
    assert (early.inbound, early.outbound, early.replies) == (2, 2, 2)
    assert (late.inbound, late.outbound, late.replies) == (2, 2, 2)
    assert late.avg_reply_seconds is not None and abs(late.avg_reply_seconds - 7.0) < 0.01
    assert late.max_reply_seconds is not None and abs(late.max_reply_seconds - 10.0) < 0.01
    assert early.avg_reply_seconds is not None and abs(early.avg_reply_seconds - 1.5) < 0.01
    assert all(h.start.tzinfo is not None for h in hours)


async def test_counts(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    since = NOW - timedelta(hours=24)
    async with uow_factory() as uow:
        inbound = await uow.operations.inbound_counts(since)
        outbound = await uow.operations.outbound_counts(since)
        students = await uow.operations.student_counts()
    assert (inbound.received, inbound.done, inbound.failed, inbound.pending,
            inbound.unknown_senders) == (4, 4, 0, 0, 1)
    assert outbound.total == 4 and outbound.with_tools == 1
    assert dict(outbound.by_status) == {"delivered": 1, "read": 1, "failed": 1, "sent": 1}
    assert [(f.code, f.title, f.count) for f in outbound.failures] == [
        ("131026", "Message undeliverable", 1)]
    assert (students.active, students.inactive, students.number_changed) == (2, 1, 1)


async def test_usage(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    async with uow_factory() as uow:
        days = await uow.operations.usage_by_day(NOW - timedelta(days=7))
        day = await uow.operations.usage_totals(NOW - timedelta(hours=24))
        month = await uow.operations.usage_totals(NOW - timedelta(days=30))
    assert [(d.day.isoformat(), d.calls, d.errors, d.tokens) for d in days] == [
        ("2026-03-09", 1, 0, 150), ("2026-03-10", 3, 1, 450)]
    assert abs(days[1].cost_usd - 0.003) < 1e-9
    assert (day.calls, day.errors, day.errors_by_kind, day.tokens, day.students,
            day.calls_with_tools) == (3, 1, (("timeout", 1),), 450, 1, 1)
    assert month.students == 2 and abs(month.cost_usd - 0.007) < 1e-9


async def test_webhook_log(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    async with uow_factory() as uow:
        everything = await uow.operations.webhook_events()
        failed = await uow.operations.webhook_events(signature_ok=False)
        meta_ok = await uow.operations.webhook_events(signature_ok=True, channel="meta")
        second = await uow.operations.webhook_events(page=PageRequest(limit=1, offset=1))
        one = await uow.operations.webhook_event(failed.items[0].id)
        missing = await uow.operations.webhook_event(999_999)
    assert [e.channel for e in everything.items] == ["twilio", "meta", "meta"]  # newest first
    assert everything.total == 3
    assert [(e.signature_ok, e.body, e.note) for e in failed.items] == [
        (False, "", "firma inválida")]
    assert meta_ok.total == 1 and meta_ok.items[0].body == '{"a": 1}'
    assert second.total == 3 and second.items[0].note == "firma inválida"
    assert one == failed.items[0] and missing is None


async def test_dashboard_service_fills_every_hour_and_day(
        uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    board = await DashboardService(uow_factory, FixedClock(NOW)).overview()
    assert len(board.hours) == 24 and board.hours[-1].start == HOUR
    assert board.hours[-3].inbound == 2 and board.hours[-2].inbound == 0
    assert len(board.days) == 7 and board.days[-1].day == NOW.date()
    assert board.messages_last_hour == 2
    assert abs(board.messages_per_hour - 4 / 24) < 1e-9
    assert board.avg_reply_seconds is not None
    assert abs(board.avg_reply_seconds - (2 + 1 + 4 + 10) / 4) < 0.01
    assert board.response_rate == 1.0
    assert board.phone_errors == 1
    assert board.delivery_rate == 2 / 4
    assert board.model_error_rate == 1 / 3
    assert board.tool_rate == 1 / 4
    assert board.cost_per_student is not None and abs(board.cost_per_student - 0.0035) < 1e-9
    assert board.tokens_today == 450
    assert board.open_handoffs == 0 and board.inbox_depth == (0, 0.0)


async def test_students_search_by_name_or_phone(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for name, phone in (("Ana María Pérez", "+573001234567"),
                            ("Mariana 50%_off", "+573009876543"),
                            ("Beto", "+573005550000")):
            await uow.students.add(Student.register(name, PhoneNumber.parse(phone),
                                                    registered_at=NOW))
        await uow.commit()
    async with uow_factory() as uow:
        async def names(**kwargs: object) -> list[str]:
            page = await uow.students.list(**kwargs)  # type: ignore[arg-type]
            return sorted(s.name for s in page.items)

        assert await names(search="maría") == ["Ana María Pérez"]
        assert await names(search="MARIANA") == ["Mariana 50%_off"]  # case-insensitive
        assert await names(search="Mar") == ["Ana María Pérez", "Mariana 50%_off"]
        assert await names(search="987 6543") == ["Mariana 50%_off"]
        assert await names(search="%") == ["Mariana 50%_off"]  # wildcards are literal
        assert await names(search="_") == ["Mariana 50%_off"]
        assert await names(search="  ") == ["Ana María Pérez", "Beto", "Mariana 50%_off"]
        assert await names(search="12") == []  # two digits: not a phone search
        assert await names(search="beto", active=False) == []
        page = await uow.students.list(search="an", page=PageRequest(limit=1))
        assert page.total == 2 and len(page.items) == 1


async def test_dashboard_windows_use_the_time_indexes_on_postgres(engine: AsyncEngine) -> None:
    """With many old messages, the last day's counts read an index range, not the table."""
    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        await conn.execute(sa.text(
            "INSERT INTO inbound_messages (channel, provider_id, wa_id, type, raw, sent_at, "
            "received_at, state, available_at, attempts) SELECT 'meta', 'w' || g, '573001', "
            "'text', '{}', :now - g * interval '1 minute', :now - g * interval '1 minute', "
            "'done', :now, 0 FROM generate_series(1, 30000) AS g"), {"now": NOW})
        await conn.execute(sa.text(
            "INSERT INTO outbound_messages (inbound_id, channel, to_wa_id, body, status, "
            "attempts, next_attempt_at, created_at, updated_at) SELECT g, 'meta', '573001', "
            "'x', 'read', 1, :now, :now - g * interval '1 minute', :now "
            "FROM generate_series(1, 30000) AS g"), {"now": NOW})
        await conn.execute(sa.text("ANALYZE"))
    statements: list[tuple[str, object]] = []

    def capture(_conn: object, _cursor: object, statement: str, parameters: object,
                _context: object, _executemany: bool) -> None:
        statements.append((statement, parameters))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        async with SqlUnitOfWorkFactory(engine)() as uow:
            since = NOW - timedelta(hours=24)
            await uow.operations.traffic_by_hour(since, NOW)
            await uow.operations.inbound_counts(since)
            await uow.operations.outbound_counts(since)
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", capture)
    async with engine.connect() as conn:
        for statement, parameters in statements:
            plan = "\n".join(row[0] for row in await conn.exec_driver_sql(
                "EXPLAIN " + statement, parameters))  # type: ignore[arg-type]
            assert "Seq Scan on inbound_messages" not in plan, plan
            assert "Seq Scan on outbound_messages" not in plan, plan
