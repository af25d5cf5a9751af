"""The message bus: handlers registered once, events published after commit."""

from __future__ import annotations

import asyncio
import logging

import pytest

from eki_adapters.memory import InMemoryStore
from eki_adapters.system import FixedClock, ProcessWakeups
from eki_domain.model.events import Event, GradesImported, HandoffReleased, MessageReceived
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_domain.services.ingest import IngestService
from eki_domain.services.messagebus import MessageBus


async def test_handlers_run_in_order_sync_and_async_and_base_classes_see_everything() -> None:
    bus = MessageBus()
    seen: list[str] = []

    async def later(event: GradesImported) -> None:
        await asyncio.sleep(0)
        seen.append(f"async {event.student_ids}")

    bus.subscribe(GradesImported, lambda event: seen.append(f"sync {event.student_ids}"))
    bus.subscribe(GradesImported, later)
    bus.subscribe(Event, lambda event: seen.append(type(event).__name__))
    await bus.publish(GradesImported((1, 2)), HandoffReleased(student_id=3, by="admin"))
    assert seen == ["sync (1, 2)", "async (1, 2)", "GradesImported", "HandoffReleased"]


async def test_a_failing_handler_is_logged_and_the_others_still_run(
        caplog: pytest.LogCaptureFixture) -> None:
    bus = MessageBus()
    seen: list[int] = []

    def broken(event: GradesImported) -> None:
        raise RuntimeError("cache down")

    bus.subscribe(GradesImported, broken)
    bus.subscribe(GradesImported, lambda event: seen.extend(event.student_ids))
    with caplog.at_level(logging.ERROR, logger="eki.events"):
        await bus.publish(GradesImported((7,)))  # never raises: the fact is committed
    assert seen == [7]
    assert "failed on GradesImported" in caplog.text


async def test_unsubscribing_stops_the_handler() -> None:
    bus = MessageBus()
    seen: list[int] = []
    unsubscribe = bus.subscribe(GradesImported, lambda event: seen.extend(event.student_ids))
    await bus.publish(GradesImported((1,)))
    unsubscribe()
    unsubscribe()  # twice: nothing happens
    await bus.publish(GradesImported((2,)))
    assert seen == [1]


async def test_ingest_publishes_message_received_after_commit_and_it_wakes_listeners() -> None:
    store, bus, wakeups = InMemoryStore(), MessageBus(), ProcessWakeups()
    bus.subscribe(MessageReceived, lambda event: wakeups.notify(event.new_messages))
    woken: list[int] = []
    listener = asyncio.create_task(wakeups.listen(woken.append))
    await asyncio.sleep(0)
    ingest = IngestService(store.uow, FixedClock(), bus=bus)
    message = IncomingMessage(channel="meta", provider_id="wamid.1", wa_id="573001234567",
                              type=MessageType.TEXT, sent_at=FixedClock().now(), text="hola")
    await ingest.ingest(channel="meta", body="{}", messages=[message], statuses=[])
    await ingest.ingest(channel="meta", body="{}", messages=[message], statuses=[])  # again
    assert woken == [1]  # the redelivery stored nothing new: no wake-up
    listener.cancel()
    with pytest.raises(asyncio.CancelledError):
        await listener
    wakeups.notify(3)  # nobody listens any more
    assert woken == [1]


async def test_process_wakeups_pass_on_other_processes_notifications_as_zero() -> None:
    async def remote(wake: object) -> None:
        assert callable(wake)
        wake()
        await asyncio.Event().wait()

    wakeups = ProcessWakeups(remote=remote)
    woken: list[int] = []
    listener = asyncio.create_task(wakeups.listen(woken.append))
    await asyncio.sleep(0)
    wakeups.notify(2)
    assert woken == [0, 2]
    listener.cancel()
    with pytest.raises(asyncio.CancelledError):
        await listener
