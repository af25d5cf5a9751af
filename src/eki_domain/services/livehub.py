"""Fan-out of live events to the subscribers of one process, with bounded queues.

Every subscriber has its own queue of at most ``limit`` events. A subscriber that falls so
far behind that its queue is full is dropped (its next read raises
:class:`~eki_domain.errors.LiveFeedClosed`; the SSE client reconnects and reads the state
again) — the publisher never waits for it, and memory never grows without bound. Both live
feeds (in process, PostgreSQL) deliver through one hub.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable

from eki_domain.errors import LiveFeedClosed
from eki_domain.model.live import LiveEvent

log = logging.getLogger("eki.live")


class HubSubscription:
    """:class:`~eki_domain.ports.live.LiveSubscription` of a :class:`LiveHub`."""

    def __init__(self, hub: LiveHub, accept: Callable[[LiveEvent], bool], limit: int) -> None:
        if limit < 1:
            raise ValueError("a subscription holds at least one event")
        self._hub = hub
        self._accept = accept
        self._limit = limit
        self._queue: collections.deque[LiveEvent] = collections.deque()
        self._wake = asyncio.Event()
        self._ended: str | None = None

    @property
    def ended(self) -> str | None:
        """Why the subscription ended (None: it is open)."""
        return self._ended

    @property
    def pending(self) -> int:
        return len(self._queue)

    def offer(self, event: LiveEvent) -> bool:
        """Queue ``event`` if accepted; False when the queue was full (now dropped)."""
        if self._ended is not None:
            return True
        try:
            accepted = self._accept(event)
        except Exception:
            log.exception("live event filter failed; the event is not shown")
            return True
        if not accepted:
            return True
        if len(self._queue) >= self._limit:
            self._end("too slow")
            return False
        self._queue.append(event)
        self._wake.set()
        return True

    def _end(self, reason: str) -> None:
        if self._ended is None:
            self._ended = reason
            self._queue.clear()
            self._wake.set()
            self._hub.forget(self)

    async def next(self, wait: float) -> LiveEvent | None:
        while True:
            if self._ended is not None:
                raise LiveFeedClosed(self._ended)
            if self._queue:
                return self._queue.popleft()
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                if self._ended is None and not self._queue:
                    return None

    def close(self) -> None:
        self._end("closed")


class LiveHub:
    """The subscribers of one process."""

    def __init__(self) -> None:
        self._subscribers: set[HubSubscription] = set()
        self.dropped = 0  # subscribers dropped for being too slow, since start

    def __len__(self) -> int:
        return len(self._subscribers)

    def subscribe(self, accept: Callable[[LiveEvent], bool], *, limit: int = 256
                  ) -> HubSubscription:
        subscription = HubSubscription(self, accept, limit)
        self._subscribers.add(subscription)
        return subscription

    def forget(self, subscription: HubSubscription) -> None:
        self._subscribers.discard(subscription)

    def deliver(self, event: LiveEvent) -> None:
        """Offer ``event`` to every subscriber; drop those whose queue is full."""
        for subscription in list(self._subscribers):
            if not subscription.offer(event):
                self.dropped += 1
                log.warning("a live-events subscriber fell behind (%d events queued) and "
                            "was dropped; it will reconnect", subscription._limit)

    def close(self, reason: str = "feed closed") -> None:
        """End every current subscription (new ones may still come)."""
        for subscription in list(self._subscribers):
            subscription._end(reason)
