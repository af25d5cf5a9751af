"""Pacing of broadcasts and alerts with a fake clock (issue #16): replies go first and
unpaced, broadcast rows go out at EKI_BROADCAST_RATE (shared by the live workers), and
Meta's 131026 marks the number "sin WhatsApp"."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from eki_adapters.memory import InMemoryStore
from eki_adapters.system.clock import FixedClock
from eki_domain.errors import DeliveryError
from eki_domain.model.messages import DeliveryStatus, OutboundMessage, Purpose
from eki_domain.model.pacing import TokenBucket, failure_reason, fit_daily_limit
from eki_domain.ports.channel import SendReceipt
from eki_domain.services.delivery import DeliveryService

T0 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


class RecordingChannel:
    name = "meta"
    max_body_chars = 4096

    def __init__(self, failing: dict[str, str] | None = None) -> None:
        self.sent: list[tuple[str, str | None]] = []  # (to, template)
        self.failing = failing or {}

    async def send_text(self, to: str, body: str, *, reply_to: str | None = None,
                        idempotency_key: str | None = None) -> SendReceipt:
        self.sent.append((to, None))
        return SendReceipt(f"wamid.{len(self.sent)}")

    async def send_template(self, to: str, name: str, language: str, params: Sequence[str],
                            *, content_sid: str | None = None,
                            idempotency_key: str | None = None) -> SendReceipt:
        if to in self.failing:
            raise DeliveryError("no", code=self.failing[to], permanent=True, title="x")
        self.sent.append((to, name))
        return SendReceipt(f"wamid.{len(self.sent)}")

    async def mark_read(self, provider_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


async def queue(store: InMemoryStore, broadcast: int, replies: int) -> None:
    async with store.uow() as uow:
        await uow.outbox.enqueue_many([
            OutboundMessage(to=f"57310{n:04d}", body="aviso", created_at=T0,
                            purpose=Purpose.BROADCAST, broadcast_id=1, template="aviso",
                            template_language="es") for n in range(broadcast)])
        for n in range(replies):
            await uow.outbox.enqueue(OutboundMessage(to=f"57320{n:04d}", body="hola",
                                                     created_at=T0))
        await uow.commit()


async def run_for(service: DeliveryService, clock: FixedClock, seconds: float,
                  tick: float = 0.1) -> None:
    for _ in range(round(seconds / tick)):
        await service.dispatch_due()
        clock.advance(timedelta(seconds=tick))


async def test_replies_first_then_broadcast_rows_at_the_configured_rate() -> None:
    store, clock, channel = InMemoryStore(), FixedClock(T0), RecordingChannel()
    service = DeliveryService(store.uow, clock, channel, broadcast_rate=10, daily_limit=10_000)
    await queue(store, broadcast=120, replies=5)
    await service.dispatch_due()
    assert [t for _, t in channel.sent[:5]] == [None] * 5  # the replies, first and at once
    await run_for(service, clock, 10.0)
    bulk = [to for to, t in channel.sent if t is not None]
    # 10 per second over 10 s, plus the first token: 101 (never a burst above it).
    assert 100 <= len(bulk) <= 102
    assert len(set(bulk)) == len(bulk)


async def test_several_workers_share_the_rate() -> None:
    store, clock, channel = InMemoryStore(), FixedClock(T0), RecordingChannel()
    service = DeliveryService(store.uow, clock, channel, broadcast_rate=20, daily_limit=10_000)
    service.share_rate(4)  # four live workers: 5 per second here
    await queue(store, broadcast=60, replies=0)
    await run_for(service, clock, 10.0)
    assert 49 <= len(channel.sent) <= 52


async def test_a_new_reply_is_not_delayed_by_a_paced_broadcast() -> None:
    store, clock, channel = InMemoryStore(), FixedClock(T0), RecordingChannel()
    service = DeliveryService(store.uow, clock, channel, broadcast_rate=1, daily_limit=10_000)
    await queue(store, broadcast=20, replies=0)
    await run_for(service, clock, 2.0)
    async with store.uow() as uow:  # a student writes to the school meanwhile
        await uow.outbox.enqueue(OutboundMessage(to="573100049", body="hola", created_at=T0))
        await uow.commit()
    before = len(channel.sent)
    await service.dispatch_due()
    assert channel.sent[before] == ("573100049", None)
    assert len(channel.sent) - before <= 2  # and at most the one broadcast token saved up


async def test_no_whatsapp_marks_the_number_and_the_reason_is_spanish() -> None:
    store, clock = InMemoryStore(), FixedClock(T0)
    channel = RecordingChannel(failing={"573100000": "131026", "573100001": "131049"})
    service = DeliveryService(store.uow, clock, channel, broadcast_rate=50, daily_limit=10)
    await queue(store, broadcast=3, replies=0)
    await run_for(service, clock, 1.0)
    async with store.uow() as uow:
        assert await uow.no_whatsapp.among(["573100000", "573100001"]) == {"573100000"}
        failed = [r.message for r in store.messaging[0].outbox.values()
                  if r.message.status is DeliveryStatus.FAILED]
    assert sorted(m.error_code or "" for m in failed) == ["131026", "131049"]
    assert failure_reason("131049") == "Meta limitó los mensajes de marketing a esta persona"


def test_token_bucket_never_saves_more_than_a_second() -> None:
    bucket = TokenBucket.per_second(5)
    assert bucket.available(T0) == 1
    bucket.take(1, T0)
    assert bucket.available(T0 + timedelta(minutes=10)) == 5
    bucket.take(5, T0 + timedelta(minutes=10))
    assert bucket.wait(T0 + timedelta(minutes=10)) == pytest.approx(0.2)


async def test_an_alert_queued_before_quiet_hours_waits_for_their_end() -> None:
    """EKI_QUIET_HOURS is re-checked at sending time: an alert queued at 19:59 behind a
    broadcast is not sent at 20:00 but at 07:00 (America/Bogota); broadcasts and replies
    are not held."""
    from zoneinfo import ZoneInfo

    from eki_domain.model.schedule import QuietHours

    bogota = ZoneInfo("America/Bogota")
    evening = datetime(2026, 12, 7, 20, 0, 30, tzinfo=bogota)  # quiet hours began 30 s ago
    store, clock, channel = InMemoryStore(), FixedClock(evening), RecordingChannel()
    service = DeliveryService(store.uow, clock, channel, broadcast_rate=50,
                              daily_limit=10_000,
                              quiet=QuietHours.parse("20:00-07:00", bogota))
    async with store.uow() as uow:
        await uow.outbox.enqueue(OutboundMessage(
            to="573100777", body="Hoy Ana no asistió", created_at=evening - timedelta(
                seconds=90), purpose=Purpose.ALERT, template="alerta_falla",
            template_language="es"))
        await uow.commit()
    await queue(store, broadcast=2, replies=1)
    await run_for(service, clock, 2.0)
    assert ("573100777", "alerta_falla") not in channel.sent
    assert len(channel.sent) == 3  # the reply and the two broadcast rows went out
    [alert] = [r for r in store.messaging[0].outbox.values()
               if r.message.purpose is Purpose.ALERT]
    assert alert.message.status is DeliveryStatus.QUEUED
    assert alert.next_attempt_at == datetime(2026, 12, 8, 7, 0, tzinfo=bogota)
    clock.set(datetime(2026, 12, 8, 7, 0, 1, tzinfo=bogota))
    await run_for(service, clock, 1.0)
    assert ("573100777", "alerta_falla") in channel.sent


def test_the_daily_limit_lets_known_recipients_through_and_counts_new_ones() -> None:
    # Room for one new recipient: 57A and 57C were messaged in the window already.
    fit, deferred = fit_daily_limit(["57A", "57B", "57C", "57D", "57E"], {"57A", "57C"}, 1)
    assert (fit, deferred) == ([0, 1, 2], 2)
    assert fit_daily_limit(["57B", "57D"], set(), 0) == ([], 2)
    assert fit_daily_limit(["57B", "57D"], set(), -3) == ([], 2)  # over the limit already
