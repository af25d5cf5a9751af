"""Live events in one process: the event's JSON and its bounds, who may see it, and the
hub's fan-out with bounded queues (a slow subscriber is dropped, the others go on)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from eki_adapters.system.live import ProcessLiveFeed
from eki_domain.errors import LiveFeedClosed
from eki_domain.model.live import MAX_WIRE_BYTES, LiveEvent, LiveEventType, visible_to
from eki_domain.model.permissions import Principal
from eki_domain.model.staff import Role, StaffMember
from eki_domain.services.livehub import LiveHub

AT = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)


def event(phone: str = "+573001234567", *, tags: frozenset[str] = frozenset({"grado 10"}),
          student_id: int | None = 7, **extra: str | int | None) -> LiveEvent:
    return LiveEvent(type=LiveEventType.MESSAGE_STATUS, phone=phone, at=AT,
                     student_id=student_id, tags=tags, extra=extra)


def staff(role: Role, *tags: str) -> Principal:
    return Principal.staff(StaffMember.create(f"{role.value}@colegio.co", "Xiomara", role,
                                              created_at=AT, tags=tags))


def test_the_public_json_has_the_envelope_and_no_tags() -> None:
    live = event(status="delivered", outbound_id=12)
    assert json.loads(live.to_json()) == {
        "type": "message.status", "phone": "+573001234567", "at": "2026-12-06T22:00:00+00:00",
        "student_id": 7, "status": "delivered", "outbound_id": 12}
    assert "\n" not in live.to_json()  # one SSE data: line


def test_the_wire_form_round_trips_with_the_tags() -> None:
    live = event(status="read", outbound_id=3)
    again = LiveEvent.from_wire(live.to_wire())
    assert again == live
    assert again.tags == frozenset({"grado 10"})


def test_the_wire_form_stays_under_postgres_notify_limit() -> None:
    many_tags = frozenset(f"curso número {i} con un nombre bastante largo" for i in range(400))
    live = event(tags=many_tags, note="x" * 5000)
    wire = live.to_wire()
    assert len(wire.encode()) <= MAX_WIRE_BYTES
    parsed = json.loads(wire)
    assert parsed["tags"] == [] and parsed["tags_dropped"] is True
    assert len(parsed["note"]) == 300  # extra strings are cut


@pytest.mark.parametrize("bad", [
    "[]", '{"type": "message.status"}', '{"type": "nope", "phone": "+1", "at": "2026-01-01"}',
    '{"type": "message.status", "phone": "+1", "at": "2026-01-01", "student_id": "7"}',
    '{"type": "message.status", "phone": "+1", "at": "2026-01-01", "tags": "a"}',
    '{"type": "message.status", "phone": "+1", "at": "2026-01-01", "x": {"nested": 1}}',
    "not json"])
def test_a_malformed_wire_payload_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json's, the enum's or ours
        LiveEvent.from_wire(bad)


def test_extra_fields_may_not_override_the_envelope() -> None:
    for key in ("tags", "phone", "type"):
        with pytest.raises(ValueError, match="bad live event field"):
            LiveEvent(type=LiveEventType.NOTE_ADDED, phone="+1", at=AT, extra={key: "x"})


def test_who_sees_an_event() -> None:
    ours, theirs = event(), event(tags=frozenset({"grado 11"}))
    stranger = event(tags=frozenset(), student_id=None)
    teacher = staff(Role.TEACHER, "grado 10")
    assert visible_to(teacher, ours) and not visible_to(teacher, theirs)
    assert not visible_to(teacher, stranger)  # unknown senders: only who sees everyone
    for everyone in (staff(Role.ADMIN), staff(Role.COORDINATOR), Principal.system()):
        assert all(visible_to(everyone, e) for e in (ours, theirs, stranger))
    assert not visible_to(staff(Role.VIEWER), ours)


async def test_the_hub_fans_out_filtered_and_in_order() -> None:
    hub = LiveHub()
    all_ = hub.subscribe(lambda e: True)
    tenth = hub.subscribe(lambda e: "grado 10" in e.tags)
    events = [event(outbound_id=1), event(tags=frozenset({"grado 11"}), outbound_id=2),
              event(outbound_id=3)]
    for e in events:
        hub.deliver(e)
    assert [await all_.next(1) for _ in range(3)] == events
    assert [await tenth.next(1) for _ in range(2)] == [events[0], events[2]]
    assert await tenth.next(0.05) is None  # nothing more: None after the wait


async def test_a_waiting_subscriber_wakes_when_an_event_comes() -> None:
    hub = LiveHub()
    subscription = hub.subscribe(lambda e: True)
    waiting = asyncio.create_task(subscription.next(5))
    await asyncio.sleep(0.01)
    hub.deliver(event(outbound_id=9))
    assert (await asyncio.wait_for(waiting, 1)) == event(outbound_id=9)


async def test_a_slow_subscriber_is_dropped_not_the_others() -> None:
    hub = LiveHub()
    slow = hub.subscribe(lambda e: True, limit=3)
    fast = hub.subscribe(lambda e: True, limit=3)
    for i in range(3):
        hub.deliver(event(outbound_id=i))
        assert (await fast.next(1)) is not None
    hub.deliver(event(outbound_id=99))  # the slow one's queue is full: dropped
    assert len(hub) == 1 and hub.dropped == 1
    with pytest.raises(LiveFeedClosed) as closed:
        await slow.next(1)
    assert closed.value.reason == "too slow"
    assert (await fast.next(1)) == event(outbound_id=99)
    for i in range(1000):  # the dropped one holds nothing more
        hub.deliver(event(outbound_id=i))
        await fast.next(1)
    assert slow.pending == 0


async def test_a_failing_filter_hides_the_event_and_keeps_the_subscriber() -> None:
    hub = LiveHub()

    def broken(_e: LiveEvent) -> bool:
        raise RuntimeError("bug")

    subscription = hub.subscribe(broken)
    hub.deliver(event())
    assert len(hub) == 1 and await subscription.next(0.01) is None


async def test_closing_ends_every_subscription() -> None:
    feed = ProcessLiveFeed()
    assert not feed.wanted
    subscription = feed.subscribe(lambda e: True)
    assert feed.wanted
    waiting = asyncio.create_task(subscription.next(5))
    await asyncio.sleep(0.01)
    await feed.aclose()
    with pytest.raises(LiveFeedClosed):
        await asyncio.wait_for(waiting, 1)
    assert not feed.wanted
    other = feed.subscribe(lambda e: True)
    other.close()
    other.close()  # idempotent
    assert not feed.wanted
