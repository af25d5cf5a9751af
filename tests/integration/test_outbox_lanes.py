"""The outbox's two lanes (issue #16) on memory, SQLite and PostgreSQL: replies and staff
messages are claimed apart from (and never held back by) queued broadcast rows; broadcast
and alert rows are claimed within the daily limit of unique recipients per rolling 24 h,
across broadcasts and alerts; a (broadcast, recipient) is queued once; numbers without
WhatsApp are remembered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eki_domain.model.messages import DeliveryStatus, OutboundMessage, Purpose
from eki_domain.model.pacing import DAILY_WINDOW
from eki_domain.ports.repositories import UnitOfWorkFactory

T0 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
LEASE = timedelta(seconds=90)


def bulk(to: str, broadcast_id: int | None, purpose: Purpose = Purpose.BROADCAST,
         at: datetime = T0) -> OutboundMessage:
    return OutboundMessage(to=to, body=f"Aviso para {to}", created_at=at, purpose=purpose,
                           broadcast_id=broadcast_id, template="aviso",
                           template_language="es", template_params=("x",))


async def test_replies_are_claimed_apart_from_broadcasts(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.outbox.enqueue_many([bulk("573001", 1), bulk("573002", 1)]) == 2
        reply = await uow.outbox.enqueue(OutboundMessage(to="573001", body="hola",
                                                         created_at=T0))
        await uow.commit()
    async with uow_factory() as uow:
        # The reply to 573001 is not held back by the broadcast row queued before it.
        claimed = await uow.outbox.claim_due(T0, LEASE, 10, priority_only=True)
        assert [m.id for m in claimed] == [reply]
        assert claimed[0].purpose is Purpose.REPLY
        # The broadcast row to 573001 waits while the reply is being sent.
        got = await uow.outbox.claim_bulk(T0, LEASE, 10, daily_limit=100,
                                          window=DAILY_WINDOW)
        assert [(m.to, m.purpose, m.broadcast_id) for m in got.messages] == [
            ("573002", Purpose.BROADCAST, 1)]
        await uow.commit()


async def test_a_broadcast_recipient_is_queued_once(uow_factory: UnitOfWorkFactory) -> None:
    rows = [bulk(f"57300{n:03d}", 7) for n in range(1200)]  # more than one INSERT batch
    async with uow_factory() as uow:
        assert await uow.outbox.enqueue_many(rows[:700]) == 700
        await uow.commit()
    async with uow_factory() as uow:  # queueing resumed after a crash: no duplicates
        assert await uow.outbox.enqueue_many(rows) == 500
        assert await uow.outbox.enqueue_many([bulk("57300000", 8)]) == 1  # another one
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.outbox.claim_bulk(T0, LEASE, 5000, daily_limit=10_000,
                                          window=DAILY_WINDOW)
        assert len(got.messages) == 1200  # 57300000 of broadcast 8 waits behind the 7's
        assert len({m.to for m in got.messages}) == 1200


async def test_daily_limit_counts_unique_recipients_across_broadcasts_and_alerts(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.outbox.enqueue_many([bulk("57A", 1), bulk("57B", 1)])
        await uow.outbox.enqueue_many([bulk("57B", 2), bulk("57C", 2), bulk("57D", 2)])
        await uow.outbox.enqueue(bulk("57E", None, Purpose.ALERT))
        await uow.commit()
    async with uow_factory() as uow:
        first = await uow.outbox.claim_bulk(T0, LEASE, 10, daily_limit=3,
                                            window=DAILY_WINDOW)
        # A, B (broadcast 1) and C fit; D and the alert to E do not; B of broadcast 2
        # waits behind B of broadcast 1.
        assert sorted(m.to for m in first.messages) == ["57A", "57B", "57C"]
        assert first.deferred == 2
        assert first.deferred_until == T0 + DAILY_WINDOW
        for n, m in enumerate(first.messages):
            assert m.id is not None
            await uow.outbox.mark_sent(m.id, f"wamid.{n}", T0)
        used, among = await uow.outbox.daily_usage(T0 - DAILY_WINDOW, ["57A", "57D"])
        assert (used, among) == (3, {"57A"})
        await uow.commit()
    later = T0 + timedelta(minutes=5)
    async with uow_factory() as uow:
        # B was already messaged in the window: its second broadcast costs nothing.
        again = await uow.outbox.claim_bulk(later, LEASE, 10, daily_limit=3,
                                            window=DAILY_WINDOW)
        assert [(m.to, m.broadcast_id) for m in again.messages] == [("57B", 2)]
        assert again.deferred == 0  # D and E wait for the window, not looked at now
        await uow.commit()
    tomorrow = T0 + DAILY_WINDOW + timedelta(seconds=1)
    async with uow_factory() as uow:
        # A and C left the window (B's second message is still in it): two places free.
        last = await uow.outbox.claim_bulk(tomorrow, LEASE, 10, daily_limit=3,
                                           window=DAILY_WINDOW)
        assert sorted((m.to, m.purpose) for m in last.messages) == [
            ("57D", Purpose.BROADCAST), ("57E", Purpose.ALERT)]
        await uow.commit()


async def test_pending_replies_are_never_claimed_by_the_bulk_lane(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.outbox.enqueue(OutboundMessage(to="57Z", body="hola", created_at=T0,
                                                 purpose=Purpose.STAFF, author="a@b.co"))
        await uow.outbox.enqueue_many([bulk("57Z", 3)])
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.outbox.claim_bulk(T0, LEASE, 10, daily_limit=5, window=DAILY_WINDOW)
        assert got.messages == []  # the broadcast row waits behind the staff message
        (staff,) = await uow.outbox.claim_due(T0, LEASE, 10, priority_only=True)
        assert staff.purpose is Purpose.STAFF
        assert staff.id is not None
        await uow.outbox.mark_sent(staff.id, "wamid.s", T0)
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.outbox.claim_bulk(T0, LEASE, 10, daily_limit=5, window=DAILY_WINDOW)
        assert [m.status for m in got.messages] == [DeliveryStatus.SENDING]


async def test_numbers_without_whatsapp_are_remembered(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.no_whatsapp.mark("573001", T0, "131026")
        await uow.no_whatsapp.mark("573001", T0, "131026")  # twice is fine
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.no_whatsapp.among(["573001", "573002"]) == {"573001"}


async def test_a_paced_broadcast_does_not_look_like_a_stuck_queue(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.outbox.enqueue_many([bulk(f"57B{n}", 9) for n in range(3)])
        await uow.outbox.enqueue(OutboundMessage(to="57R", body="hola", created_at=T0))
        await uow.commit()
    async with uow_factory() as uow:
        count, oldest = await uow.outbox.depth(T0 + timedelta(minutes=10))
    assert (count, oldest) == (1, 600.0)


async def test_quiet_hours_hold_queued_alerts_only(uow_factory: UnitOfWorkFactory) -> None:
    morning = T0 + timedelta(hours=10)
    async with uow_factory() as uow:
        await uow.outbox.enqueue(bulk("57A", None, Purpose.ALERT))
        await uow.outbox.enqueue(bulk("57B", None, Purpose.ALERT))
        await uow.outbox.enqueue_many([bulk("57C", 3)])
        await uow.outbox.enqueue(OutboundMessage(to="57D", body="hola", created_at=T0))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.outbox.hold_alerts(T0, morning) == 2
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.outbox.claim_bulk(T0, LEASE, 10, daily_limit=100,
                                          window=DAILY_WINDOW)
        assert [m.to for m in got.messages] == ["57C"]  # the broadcast row is not held
        assert [m.to for m in await uow.outbox.claim_due(T0, LEASE, 10,
                                                         priority_only=True)] == ["57D"]
        await uow.commit()
    async with uow_factory() as uow:
        got = await uow.outbox.claim_bulk(morning, LEASE, 10, daily_limit=100,
                                          window=DAILY_WINDOW)
        assert sorted(m.to for m in got.messages) == ["57A", "57B"]
