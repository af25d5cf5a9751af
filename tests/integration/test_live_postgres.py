"""Live events across processes over PostgreSQL LISTEN/NOTIFY: an event published on one
connection reaches a subscriber listening on another within 2 s; the listener comes back
after its connection is killed (a PostgreSQL restart, as the server sees it); and a message
answered by an ``eki worker`` of another process shows up on the web process's feed."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy.engine import make_url

from eki_adapters.sql import create_engine
from eki_adapters.sql.live import EVENTS_CHANNEL, PostgresLiveFeed
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.errors import LiveFeedClosed
from eki_domain.model.live import LiveEvent, LiveEventType
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings
from eki_entrypoints.worker import PipelineWorker
from tests.conftest import ADMIN_URL, _conninfo, _migrate

pytestmark = pytest.mark.postgres

AT = datetime(2026, 12, 6, 22, 0, tzinfo=UTC)


@pytest.fixture
async def own_database(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own: its NOTIFY channel and inbox hold only this test's."""
    name = f"eki_live_{secrets.token_hex(4)}"
    with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        await _migrate(url)
        yield url
    finally:
        with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _event(n: int) -> LiveEvent:
    return LiveEvent(type=LiveEventType.MESSAGE_STATUS, phone="+573001234567", at=AT,
                     student_id=n, tags=frozenset({"grado 10"}),
                     extra={"status": "delivered", "outbound_id": n})


async def test_an_event_published_on_one_connection_reaches_another(own_database: str
                                                                     ) -> None:
    engines = [create_engine(own_database), create_engine(own_database)]
    listener, publisher = (PostgresLiveFeed(e) for e in engines)
    try:
        theirs = listener.subscribe(lambda e: True)
        only_tenth = listener.subscribe(lambda e: e.student_id != 2)
        await listener.wait_listening()
        mine = publisher.subscribe(lambda e: True)  # the publisher hears its own too
        await publisher.wait_listening()
        started = time.monotonic()
        await publisher.publish([_event(1), _event(2)])
        assert await theirs.next(2) == _event(1)
        assert time.monotonic() - started < 2
        assert await theirs.next(2) == _event(2)
        assert await only_tenth.next(2) == _event(1)
        assert await only_tenth.next(0.3) is None
        assert [await mine.next(2), await mine.next(2)] == [_event(1), _event(2)]
        assert await theirs.next(0.3) is None  # exactly once
    finally:
        for feed in (listener, publisher):
            await feed.aclose()
        for engine in engines:
            await engine.dispose()


async def test_the_listener_reconnects_after_its_connection_dies(own_database: str) -> None:
    engine = create_engine(own_database)
    feed = PostgresLiveFeed(engine, retry_delay=0.1)
    try:
        subscription = feed.subscribe(lambda e: True)
        await feed.wait_listening()
        name = make_url(own_database).database
        with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
            killed = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND query LIKE %s", (name, f"LISTEN {EVENTS_CHANNEL}%"),
            ).fetchall()
        assert killed, "no listening connection found"
        for _ in range(100):  # the listener notices and reconnects
            if feed.reconnects and feed.listening.is_set():
                break
            await asyncio.sleep(0.05)
        assert feed.reconnects >= 1 and feed.listening.is_set()
        # what was published meanwhile is lost: the old subscription ends ("gap") so its
        # client reads the state again; a new one receives
        with pytest.raises(LiveFeedClosed) as gap:
            await subscription.next(2)
        assert gap.value.reason == "gap"
        again = feed.subscribe(lambda e: True)
        await feed.publish([_event(7)])
        assert await again.next(2) == _event(7)
    finally:
        await feed.aclose()
        await engine.dispose()


async def test_not_ready_while_the_database_is_unreachable() -> None:
    engine = create_engine("postgresql://nobody@127.0.0.1:1/nothing")
    feed = PostgresLiveFeed(engine, retry_delay=0.05)
    try:
        feed.subscribe(lambda e: True)
        started = time.monotonic()
        assert await feed.ready(0.3) is False
        assert time.monotonic() - started < 2
        assert feed.reconnects >= 1  # and it keeps trying
    finally:
        await feed.aclose()
        await engine.dispose()


async def test_a_malformed_notification_is_ignored(own_database: str) -> None:
    engine = create_engine(own_database)
    feed = PostgresLiveFeed(engine)
    try:
        subscription = feed.subscribe(lambda e: True)
        await feed.wait_listening()
        with psycopg.connect(_conninfo(own_database), autocommit=True) as other:
            other.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, '{"type": "nope"}'))
        await feed.publish([_event(3)])
        assert await subscription.next(2) == _event(3)
    finally:
        await feed.aclose()
        await engine.dispose()


async def test_a_process_hears_whether_anyone_listens(own_database: str) -> None:
    """has_audience: False while no process listens on the database, True once one does
    (another process's listening connection, seen in pg_stat_activity), and a bridge with
    no audience sends no NOTIFY at all."""
    engines = [create_engine(own_database), create_engine(own_database)]
    publisher, listener = (PostgresLiveFeed(e) for e in engines)
    web = await _app(own_database)
    raw = await psycopg.AsyncConnection.connect(_conninfo(own_database), autocommit=True)
    try:
        await raw.execute(f"LISTEN {EVENTS_CHANNEL}")  # not an EKI listener: not counted
        assert not await publisher.has_audience()
        await web.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
            IncomingMessage(channel="meta", provider_id="wamid.UNHEARD", wa_id="573001234567",
                            type=MessageType.TEXT, sent_at=web.clock.now(), text="hola")])
        await web.live.flush()
        assert web.live.unheard == 1
        assert [n async for n in raw.notifies(timeout=0.3)] == []  # nothing was sent
        subscription = listener.subscribe(lambda e: True)
        await listener.wait_listening()
        assert await publisher.has_audience() and await web.live.feed.has_audience()
        await web.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
            IncomingMessage(channel="meta", provider_id="wamid.HEARD", wa_id="573001234567",
                            type=MessageType.TEXT, sent_at=web.clock.now(), text="hola")])
        event = await subscription.next(2)
        assert event is not None and event.type is LiveEventType.MESSAGE_RECEIVED
        assert web.live.unheard == 1
    finally:
        await raw.close()
        await web.aclose()
        for feed in (publisher, listener):
            await feed.aclose()
        for engine in engines:
            await engine.dispose()


async def _app(url: str) -> Eki:
    return await bootstrap(Settings(database_url=url), channel=ConsoleChannel(name="meta"))


async def test_a_message_answered_by_a_worker_of_another_process_shows_live(
        own_database: str) -> None:
    web, work = await _app(own_database), await _app(own_database)  # two "processes"
    worker = PipelineWorker(work, poll_interval=60)
    try:
        ana = await web.registration.register("Ana María Pérez", "573001234567",
                                              tags=["grado 10"])
        subscription = web.live.feed.subscribe(lambda e: True)
        assert isinstance(web.live.feed, PostgresLiveFeed)
        await web.live.feed.wait_listening()
        await worker.start()
        await asyncio.sleep(0.5)  # the worker listens for the inbox
        started = time.monotonic()
        await web.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
            IncomingMessage(channel="meta", provider_id="wamid.LIVE", wa_id="573001234567",
                            type=MessageType.TEXT, sent_at=web.clock.now(), text="hola")])
        seen: list[LiveEvent] = []
        while not any(e.type is LiveEventType.MESSAGE_SENT for e in seen):
            event = await subscription.next(max(0.01, 10 - (time.monotonic() - started)))
            assert event is not None, f"no message.sent within 10 s: {seen}"
            seen.append(event)
        kinds = [e.type.value for e in seen]
        assert kinds[0] == "message.received"  # published by the web process
        assert "message.status" in kinds  # the reply queued, by the worker's process
        sent = seen[-1]
        assert sent.student_id == ana.id and sent.tags == frozenset({"grado 10"})
        assert sent.phone == "+573001234567" and isinstance(sent.extra["outbound_id"], int)
    finally:
        await worker.stop()
        await web.aclose()
        await work.aclose()
