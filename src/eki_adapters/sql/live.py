"""The live feed across processes over PostgreSQL ``LISTEN``/``NOTIFY`` (issue #15).

Publishing sends one ``pg_notify('eki_events', json)`` per event (one statement, one short
transaction for a batch); each process that has subscribers keeps ONE listening connection
and fans the notifications out to them through a :class:`LiveHub`. The publishing process
hears its own notifications too, so an event reaches every subscriber exactly once through
the same path. After a lost connection (PostgreSQL restarted, network blip) the listener
reconnects with a growing delay; what was published meanwhile is not replayed: once
listening again it ends the open subscriptions (reason ``gap``), so the clients reconnect
and read the state again.

A payload is at most :data:`~eki_domain.model.live.MAX_WIRE_BYTES` bytes (PostgreSQL's limit
is 8000): events carry ids and states, never message texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_domain.model.live import LiveEvent
from eki_domain.services.livehub import HubSubscription, LiveHub

log = logging.getLogger("eki.live")

EVENTS_CHANNEL = "eki_events"
_NOTIFY = sa.text("SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p")
#: Is any session of this database listening? PostgreSQL does not show other sessions'
#: LISTENs, but it shows their application_name, which the listening connection sets
#: (visible from its start, before its LISTEN runs).
_LISTENERS = sa.text("SELECT EXISTS (SELECT 1 FROM pg_stat_activity "
                     "WHERE datname = current_database() AND application_name = :name)")


def listener_name(channel: str) -> str:
    """The ``application_name`` of a connection listening on ``channel`` (63 bytes max)."""
    return f"eki-listen {channel}"[:63]


def _conninfo(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(
        hide_password=False)


class PostgresLiveFeed:
    """:class:`~eki_domain.ports.live.LiveFeed` shared by every process on one database."""

    def __init__(self, engine: AsyncEngine, *, channel: str = EVENTS_CHANNEL,
                 retry_delay: float = 1.0, max_retry_delay: float = 15.0,
                 ping_interval: float = 30.0, hub: LiveHub | None = None) -> None:
        self._engine = engine
        self._conninfo = _conninfo(engine.url.render_as_string(hide_password=False))
        self._channel = channel
        self._name = listener_name(channel)
        self._retry_delay = retry_delay
        self._max_retry_delay = max_retry_delay
        self._ping_interval = ping_interval
        self.hub = hub or LiveHub()
        self._listener: asyncio.Task[None] | None = None
        #: Set while the listening connection is up (tests wait for it).
        self.listening = asyncio.Event()
        self.reconnects = 0
        self._closed = False

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        payloads = [event.to_wire() for event in events]
        if not payloads:
            return
        async with self._engine.begin() as conn:
            await conn.execute(_NOTIFY, {"channel": self._channel, "payloads": payloads})

    def subscribe(self, accept: Callable[[LiveEvent], bool], *, limit: int = 256
                  ) -> HubSubscription:
        """A subscription; the first one starts this process's listening connection."""
        if self._closed:
            raise RuntimeError("the live feed is closed")
        subscription = self.hub.subscribe(accept, limit=limit)
        loop = asyncio.get_running_loop()
        task = self._listener
        # One listener per process; a new one when the last ended or belonged to another
        # (closed) event loop — an app restarted in the same process.
        if task is None or task.done() or task.get_loop() is not loop:
            if task is not None and not task.done() and not task.get_loop().is_closed():
                task.get_loop().call_soon_threadsafe(task.cancel)
            self.listening = asyncio.Event()
            self._listener = loop.create_task(self._listen(), name="eki-live-listener")
        return subscription

    @property
    def wanted(self) -> bool:
        return True  # other processes may be listening: has_audience asks

    async def has_audience(self) -> bool:
        """True when this process has a subscriber, else when any process's listening
        connection is in ``pg_stat_activity`` (one autocommit SELECT, no transaction).

        Safe to skip publishing on False: it is asked after the events' transactions
        committed, so a listener it did not see connected after those commits, and its
        subscribers read the state they left (what a late subscriber does anyway)."""
        if len(self.hub):
            return True
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            return bool(await conn.scalar(_LISTENERS, {"name": self._name}))

    async def ready(self, within: float) -> bool:
        """True once this process's listening connection is up (a NOTIFY before its
        ``LISTEN`` is not heard)."""
        if not self.listening.is_set():  # (wait_for with 0 s would not even look)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.listening.wait(), within)
        return self.listening.is_set()

    async def wait_listening(self, within: float = 5.0) -> None:
        """:meth:`ready`, or TimeoutError."""
        if not await self.ready(within):
            raise TimeoutError(f"not listening after {within} s")

    async def aclose(self) -> None:
        self._closed = True
        self.hub.close()
        task, self._listener = self._listener, None
        if task is not None and task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _listen(self) -> None:
        delay = self._retry_delay
        failing = False
        while not self._closed:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, connect_timeout=10,
                    application_name=self._name)  # how publishers see it (has_audience)
                async with conn:
                    await conn.execute(f"LISTEN {self._channel}")
                    self.listening.set()
                    if failing:
                        log.info("live events: listening again")
                        # Events of the outage are lost: every stream ends ("gap") so its
                        # client reconnects and reads the current state again.
                        self.hub.close("gap")
                    failing, delay = False, self._retry_delay
                    await self._receive(conn)
            except asyncio.CancelledError:
                self.listening.clear()
                raise
            except Exception as exc:
                self.listening.clear()
                self.reconnects += 1
                if not failing:
                    log.warning("live events: the listening connection failed (%s); "
                                "reconnecting", type(exc).__name__)
                failing = True
            await asyncio.sleep(delay)
            delay = min(self._max_retry_delay, delay * 2)

    async def _receive(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Deliver notifications until the connection fails; a quiet connection is
        pinged every ``ping_interval`` seconds so a dead one is noticed."""
        while True:
            async for notice in conn.notifies(timeout=self._ping_interval):
                try:
                    event = LiveEvent.from_wire(notice.payload)
                except (ValueError, TypeError, KeyError):
                    log.warning("live events: ignored a malformed notification")
                    continue
                self.hub.deliver(event)
            await conn.execute("SELECT 1")
