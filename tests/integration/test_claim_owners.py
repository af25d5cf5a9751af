"""Claims tied to the worker that made them (issue 19 item 2), on memory, SQLite and
PostgreSQL: a dead owner's claims come back at once, a live owner keeps its inbox claims
past any lease, unowned claims keep the lease rule; a live owner's orphaned claims (turn
ended without recording it) come back; sends left ``sending`` fail ``DELIVERY_UNKNOWN``
when their owner died or their lease expired, never while a live owner is within it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eki_domain.model.messages import DeliveryStatus, IncomingMessage, MessageType, OutboundMessage
from eki_domain.ports.repositories import UnitOfWorkFactory

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
LATER = T0 + timedelta(minutes=10)  # every lease expired


def message(n: int, wa_id: str) -> IncomingMessage:
    return IncomingMessage(channel="meta", provider_id=f"wamid.own{n}", wa_id=wa_id,
                           type=MessageType.TEXT, sent_at=T0, text=f"mensaje {n}")


async def test_inbox_claims_follow_their_owner(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.inbox.add([message(n, f"57300000000{n}") for n in range(4)], T0)
        for n, owner in enumerate(["live", "dead", None, "live"]):
            (batch,) = await uow.inbox.claim_many(T0, LEASE, 1, owner=owner)
            assert batch.wa_id == f"57300000000{n}"
        await uow.commit()
    async with uow_factory() as uow:
        # Before any lease expired: only the dead owner's message comes back.
        assert await uow.inbox.recover_expired(T0, live_owners={"live"}) == 1
        # Much later: the unowned claim's lease expired too; the live owner keeps both.
        assert await uow.inbox.recover_expired(LATER, live_owners={"live"}) == 1
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.inbox.claim_many(LATER, LEASE, 10, owner="other")
        assert sorted(b.wa_id for b in again) == ["573000000001", "573000000002"]
        # The live owner answers only the first of its two senders now: the other is an
        # orphan (its turn ended without being recorded) and comes back.
        assert await uow.inbox.release_orphans("live", {"573000000000"}) == 1
        assert [b.wa_id for b in await uow.inbox.claim_many(LATER, LEASE, 10)] == [
            "573000000003"]
        await uow.commit()


async def test_sends_left_sending_fail_unknown_when_their_owner_died_or_lease_expired(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for n in range(3):
            await uow.outbox.enqueue(OutboundMessage(to=f"57300000001{n}", body=f"r{n}",
                                                     created_at=T0))
        await uow.commit()
    claimed = {}
    for owner in ("live", "dead", "live2"):
        async with uow_factory() as uow:
            (m,) = await uow.outbox.claim_due(T0, timedelta(seconds=90), 1, owner=owner)
            claimed[owner] = m.id
            await uow.commit()
    async with uow_factory() as uow:
        assert await uow.outbox.fail_abandoned(T0, live_owners={"live", "live2"}) == 1
        # Past the lease a send is given up even by a live owner (it lost track of it).
        assert await uow.outbox.fail_abandoned(LATER, live_owners={"live"}) == 2
        await uow.commit()
    async with uow_factory() as uow:
        for message_id in claimed.values():
            stored = await uow.outbox.get(message_id)
            assert stored is not None
            assert (stored.status, stored.error_code) == (DeliveryStatus.FAILED,
                                                          "DELIVERY_UNKNOWN")
