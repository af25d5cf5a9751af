"""The live bridge through the wired application on the in-memory adapters: what happens
in the services (a webhook stored, a staff reply, the dispatcher, a delivery report, a
hand-off given back) reaches a live-feed subscriber as the contract's events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest

from eki_adapters.memory import InMemoryStore
from eki_adapters.system import FixedClock
from eki_adapters.system.live import ProcessLiveFeed
from eki_domain.model.events import HandoffAssigned, MessageReceived, NoteAdded
from eki_domain.model.live import LiveEvent
from eki_domain.model.messages import DeliveryStatus, IncomingMessage, MessageType, StatusReport
from eki_domain.model.permissions import Principal
from eki_domain.services.live import LiveBridge
from eki_domain.services.staff import Caller
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings

ANA, BRUNO, STRANGER = "573001234567", "573009876543", "573005550000"
CLI = Caller(Principal.cli("coordina"))


@pytest.fixture
async def eki() -> AsyncIterator[Eki]:
    app = await bootstrap(Settings(), uow=InMemoryStore().uow, clock=FixedClock())
    yield app
    await app.aclose()


def _message(eki: Eki, wa_id: str, provider_id: str) -> IncomingMessage:
    return IncomingMessage(channel="meta", provider_id=provider_id, wa_id=wa_id,
                           type=MessageType.TEXT, sent_at=eki.clock.now(), text="hola")


async def _drain(eki: Eki, subscription: object) -> list[dict[str, object]]:
    await eki.live.flush()
    seen = []
    while (event := await subscription.next(0.01)) is not None:  # type: ignore[attr-defined]
        seen.append(event.public() | {"tags": sorted(event.tags)})
    return seen


async def test_the_conversation_as_live_events(eki: Eki) -> None:
    ana = await eki.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
    assert ana.id is not None
    subscription = eki.live.feed.subscribe(lambda e: True)
    at = eki.clock.now().isoformat()

    await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
        _message(eki, ANA, "wamid.1"), _message(eki, STRANGER, "wamid.2"),
        _message(eki, ANA, "wamid.3")])
    assert await _drain(eki, subscription) == [
        {"type": "message.received", "phone": "+" + ANA, "at": at, "student_id": ana.id,
         "channel": "meta", "tags": ["grado 10"]},
        {"type": "message.received", "phone": "+" + STRANGER, "at": at, "student_id": None,
         "channel": "meta", "tags": []}]

    queued = await eki.staff_messages.send(CLI, ana, text="Hola Ana, soy Carlos.")
    events = await _drain(eki, subscription)
    assert [(e["type"], e.get("by"), e.get("status")) for e in events] == [
        ("handoff.opened", None, None), ("handoff.taken", "cli:coordina", None),
        ("message.status", None, "queued")]
    assert events[2]["outbound_id"] == queued.id and events[2]["intent"] == "staff"
    assert all(e["student_id"] == ana.id and e["phone"] == "+" + ANA for e in events)

    outcomes = await eki.delivery.dispatch_due()
    assert [o.status for o in outcomes] == ["sent"]
    assert await _drain(eki, subscription) == [
        {"type": "message.sent", "phone": "+" + ANA, "at": at, "student_id": ana.id,
         "outbound_id": queued.id, "status": "sent", "tags": ["grado 10"]}]

    report = StatusReport(channel="meta", provider_id=outcomes[0].provider_id or "",
                          status=DeliveryStatus.DELIVERED, at=eki.clock.now())
    await eki.ingest.ingest(channel="meta", body="{}", messages=(), statuses=[report, report])
    assert [(e["type"], e["status"], e["outbound_id"])
            for e in await _drain(eki, subscription)] == [
        ("message.status", "delivered", queued.id)]  # the repeated report moved nothing

    assert await eki.conversation.release_handoff(ana.id, by="api")
    assert [(e["type"], e["by"]) for e in await _drain(eki, subscription)] == [
        ("handoff.released", "api")]


async def test_a_reply_whose_window_closed_in_the_queue_fails_live(eki: Eki) -> None:
    ana = await eki.registration.register("Ana María Pérez", ANA)
    subscription = eki.live.feed.subscribe(lambda e: True)
    await eki.ingest.ingest(channel="meta", body="{}", statuses=(),
                            messages=[_message(eki, ANA, "wamid.W")])
    queued = await eki.staff_messages.send(CLI, ana, text="Hola")
    await _drain(eki, subscription)
    eki.clock.advance(timedelta(hours=24, minutes=1))  # type: ignore[attr-defined]
    assert [o.status for o in await eki.delivery.dispatch_due()] == ["failed"]
    events = await _drain(eki, subscription)
    assert [(e["type"], e["status"], e["outbound_id"], e["error_code"]) for e in events] == [
        ("message.status", "failed", queued.id, "WINDOW_CLOSED")]


async def test_a_failure_reported_by_whatsapp_carries_its_code(eki: Eki) -> None:
    ana = await eki.registration.register("Ana María Pérez", ANA)
    subscription = eki.live.feed.subscribe(lambda e: True)
    await eki.ingest.ingest(channel="meta", body="{}", statuses=(),
                            messages=[_message(eki, ANA, "wamid.F")])
    queued = await eki.staff_messages.send(CLI, ana, text="Hola")
    (outcome,) = await eki.delivery.dispatch_due()
    await _drain(eki, subscription)
    failed = StatusReport(channel="meta", provider_id=outcome.provider_id or "",
                          status=DeliveryStatus.FAILED, at=eki.clock.now(),
                          error_code="131047", error_title="Re-engagement message")
    await eki.ingest.ingest(channel="meta", body="{}", messages=(), statuses=[failed])
    assert [(e["type"], e["status"], e["outbound_id"], e["error_code"])
            for e in await _drain(eki, subscription)] == [
        ("message.status", "failed", queued.id, "131047")]


async def test_assignments_and_notes_published_by_other_features(eki: Eki) -> None:
    ana = await eki.registration.register("Ana María Pérez", ANA, tags=["grado 10"])
    assert ana.id is not None
    subscription = eki.live.feed.subscribe(lambda e: True)
    await eki.bus.publish(
        HandoffAssigned(student_id=ana.id, to="profe@colegio.co", by="coordina@colegio.co"),
        NoteAdded(student_id=ana.id, note_id=5, by="profe@colegio.co"),
        NoteAdded(student_id=99_999, note_id=6, by="x"))  # a student gone: nothing
    events = await _drain(eki, subscription)
    assert [(e["type"], e.get("to"), e.get("note_id"), e["by"]) for e in events] == [
        ("handoff.assigned", "profe@colegio.co", None, "coordina@colegio.co"),
        ("note.added", None, 5, "profe@colegio.co")]


async def test_nobody_watching_costs_nothing(eki: Eki) -> None:
    await eki.ingest.ingest(channel="meta", body="{}", statuses=(),
                            messages=[_message(eki, BRUNO, "wamid.N")])
    assert not eki.live._queues  # nothing queued, no task


class SlowFeed(ProcessLiveFeed):
    """Wanted, and its publishing waits until told."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[LiveEvent] = []

    @property
    def wanted(self) -> bool:
        return True

    async def has_audience(self) -> bool:
        return True

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        self.published.extend(events)


async def test_the_backlog_is_bounded(eki: Eki) -> None:
    feed = SlowFeed()
    bridge = LiveBridge(eki.uow, eki.clock, feed, backlog=3)
    for i in range(10):  # no await in between: the drain task has not run yet
        bridge.accept(MessageReceived(channel="meta", new_messages=1, event_id=i,
                                      senders=(f"57300000000{i}",)))
    assert bridge.dropped == 7
    await bridge.flush()
    assert [e.phone for e in feed.published] == [
        "+573000000000", "+573000000001", "+573000000002"]


async def test_each_event_loop_flushes_its_own_events(eki: Eki) -> None:
    """One bridge used from two event loops (a test's loop and its TestClient's, a library
    user's threads): events queued in another loop afterwards do not make this loop's flush
    forget its own drain, which was left running while the Eki closed."""
    feed = SlowFeed()
    bridge = LiveBridge(eki.uow, eki.clock, feed)
    bridge.gather = 0.3
    bridge.accept(MessageReceived(channel="meta", new_messages=1, event_id=1,
                                  senders=("573000000001",)))

    async def elsewhere() -> None:  # queued there; that loop ends without flushing
        bridge.accept(MessageReceived(channel="meta", new_messages=1, event_id=2,
                                      senders=("573000000002",)))

    await asyncio.to_thread(asyncio.run, elsewhere())
    await bridge.flush()
    assert [e.phone for e in feed.published] == ["+573000000001"]
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "eki-live-bridge"]
    bridge.accept(MessageReceived(channel="meta", new_messages=1, event_id=3,
                                  senders=("573000000003",)))
    await bridge.flush()  # the other loop's queue is gone with its loop
    assert [e.phone for e in feed.published][-1] == "+573000000003"
    assert list(bridge._queues) == []


class UnheardFeed(SlowFeed):
    """Might be wanted (another process could listen) but nobody does."""

    async def has_audience(self) -> bool:
        return False


async def test_nobody_listening_anywhere_costs_no_lookup(eki: Eki) -> None:
    opened = 0

    def counting_uow() -> object:
        nonlocal opened
        opened += 1
        return eki.uow()

    feed = UnheardFeed()
    bridge = LiveBridge(counting_uow, eki.clock, feed)  # type: ignore[arg-type]
    for i in range(3):
        bridge.accept(MessageReceived(channel="meta", new_messages=1, event_id=i,
                                      senders=(f"57300000000{i}",)))
    await bridge.flush()
    assert (opened, feed.published, bridge.unheard) == (0, [], 3)
    # the same events with an audience: looked up (one unit of work) and published
    feed.has_audience = SlowFeed.has_audience.__get__(feed)  # type: ignore[method-assign]
    bridge.accept(MessageReceived(channel="meta", new_messages=1, event_id=9,
                                  senders=("573000000009",)))
    await bridge.flush()
    assert opened == 1 and [e.phone for e in feed.published] == ["+573000000009"]
