"""The live feed: events about conversations pushed to whoever is watching (issue #15).

Publishers (the live bridge, after commit) call :meth:`LiveFeed.publish`; the SSE routes
subscribe. Implementations: in one process (``eki_adapters.system.live``, SQLite and
memory) and across processes over PostgreSQL ``LISTEN``/``NOTIFY``
(``eki_adapters.sql.live``). Delivery is best effort and at most once: a subscriber that
misses events (it connected late, fell behind, the database restarted) reads the current
state again; nothing is replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from eki_domain.model.live import LiveEvent


class LiveSubscription(Protocol):
    """One watcher's bounded queue of events."""

    async def next(self, wait: float) -> LiveEvent | None:
        """The next event, or None when none came within ``wait`` seconds. Raises
        :class:`~eki_domain.errors.LiveFeedClosed` once the subscription was dropped
        (too slow: its queue filled up) or the feed closed."""
        ...

    def close(self) -> None:
        """Stop receiving (idempotent)."""
        ...


class LiveFeed(Protocol):
    async def publish(self, events: Sequence[LiveEvent]) -> None:
        """Deliver ``events`` to every subscriber (of every process) that accepts them."""
        ...

    def subscribe(self, accept: Callable[[LiveEvent], bool], *, limit: int = 256
                  ) -> LiveSubscription:
        """A new subscription to the events ``accept`` lets through; at most ``limit``
        may wait in its queue (one more drops the subscription, not the publisher)."""
        ...

    @property
    def wanted(self) -> bool:
        """False when nobody can receive an event now (no subscriber in this process and
        no other process listening): publishers may skip the work of building them.
        Answered without I/O, so it may say True when :meth:`has_audience` would not."""
        ...

    async def has_audience(self) -> bool:
        """Whether anyone (in any process) would receive an event published now; may ask
        the database, so publishers ask once per batch, after the events' transactions
        committed (whoever starts listening later reads the state they committed)."""
        ...

    async def ready(self, within: float) -> bool:
        """Wait (``within`` seconds at most) until events published from now on, by any
        process, reach this process's subscribers; False when that did not happen in time
        (the database is unreachable: the feed keeps trying). Called after
        :meth:`subscribe`, whose first call may have to open a connection first."""
        ...

    async def aclose(self) -> None:
        """Close every subscription and stop listening."""
        ...
