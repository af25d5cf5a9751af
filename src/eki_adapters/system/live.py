"""The live feed inside one process (SQLite, memory): publishing delivers at once to this
process's subscribers (issue #15). Several processes on one SQLite file do not see each
other's events: run one ``eki serve --worker`` there, or use PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from eki_domain.model.live import LiveEvent
from eki_domain.services.livehub import HubSubscription, LiveHub


class ProcessLiveFeed:
    """:class:`~eki_domain.ports.live.LiveFeed` of one process."""

    def __init__(self, hub: LiveHub | None = None) -> None:
        self.hub = hub or LiveHub()

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        for event in events:
            self.hub.deliver(event)

    def subscribe(self, accept: Callable[[LiveEvent], bool], *, limit: int = 256
                  ) -> HubSubscription:
        return self.hub.subscribe(accept, limit=limit)

    @property
    def wanted(self) -> bool:
        return len(self.hub) > 0

    async def has_audience(self) -> bool:
        return len(self.hub) > 0

    async def ready(self, within: float) -> bool:
        return True  # publishers deliver to this hub directly

    async def aclose(self) -> None:
        self.hub.close()
