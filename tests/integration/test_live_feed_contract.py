"""The LiveFeed port's contract, for both adapters (in process: SQLite and memory;
PostgreSQL LISTEN/NOTIFY): filtered delivery in order, exactly once, a slow subscriber
dropped without holding the others, closing ends every subscription, and once ``ready``
says so, what is published is heard."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from eki_adapters.sql import create_engine
from eki_adapters.sql.live import PostgresLiveFeed
from eki_adapters.system.live import ProcessLiveFeed
from eki_domain.errors import LiveFeedClosed
from eki_domain.model.live import LiveEvent, LiveEventType
from eki_domain.ports.live import LiveFeed

AT = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)


def _event(n: int, tag: str = "grado 10") -> LiveEvent:
    return LiveEvent(type=LiveEventType.HANDOFF_TAKEN, phone="+573001234567", at=AT,
                     student_id=n, tags=frozenset({tag}), extra={"by": "profe@colegio.co"})


@pytest.fixture(params=["process", "postgres"])
async def feed(request: pytest.FixtureRequest) -> AsyncIterator[LiveFeed]:
    if request.param == "process":
        process = ProcessLiveFeed()
        yield process
        await process.aclose()
        return
    engine = create_engine(str(request.getfixturevalue("postgres_url")))
    postgres = PostgresLiveFeed(engine)
    yield postgres
    await postgres.aclose()
    await engine.dispose()


async def _ready(feed: LiveFeed) -> None:
    assert await feed.ready(5.0)


async def test_once_ready_what_is_published_is_heard(feed: LiveFeed) -> None:
    """``ready`` after the first subscription: on PostgreSQL it waits for the LISTEN that
    subscription started (a NOTIFY before it is not heard)."""
    subscription = feed.subscribe(lambda e: True)
    assert await feed.ready(5.0)
    await feed.publish([_event(1)])  # at once
    assert await subscription.next(2) == _event(1)
    assert await feed.ready(0.0)  # already listening: no wait


async def test_filtered_in_order_exactly_once(feed: LiveFeed) -> None:
    everything = feed.subscribe(lambda e: True)
    tenth = feed.subscribe(lambda e: "grado 10" in e.tags)
    await _ready(feed)
    assert feed.wanted
    events = [_event(1), _event(2, "grado 11"), _event(3)]
    await feed.publish(events)
    assert [await everything.next(2) for _ in range(3)] == events
    assert [await tenth.next(2), await tenth.next(2)] == [events[0], events[2]]
    assert await everything.next(0.3) is None and await tenth.next(0.05) is None


async def test_a_slow_subscriber_is_dropped_and_the_others_go_on(feed: LiveFeed) -> None:
    slow = feed.subscribe(lambda e: True, limit=2)
    fast = feed.subscribe(lambda e: True, limit=2)
    await _ready(feed)
    for n in range(5):
        await feed.publish([_event(n)])
        assert await fast.next(2) == _event(n)
    with pytest.raises(LiveFeedClosed) as dropped:
        await slow.next(1)
    assert dropped.value.reason == "too slow"


async def test_closing_ends_the_subscriptions(feed: LiveFeed) -> None:
    subscription = feed.subscribe(lambda e: True)
    await _ready(feed)
    closed_by_hand = feed.subscribe(lambda e: True)
    closed_by_hand.close()
    with pytest.raises(LiveFeedClosed):
        await closed_by_hand.next(1)
    await feed.aclose()
    with pytest.raises(LiveFeedClosed):
        await subscription.next(1)
