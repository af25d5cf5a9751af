"""``InboxWakeups`` inside one process, optionally fed by another source (PostgreSQL
``LISTEN``, ``eki_adapters.sql.wakeups``) for messages other processes stored."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

#: Listens for other processes' messages, calling its argument for each notification,
#: until cancelled (``functools.partial(listen_for_inbox, url)``).
RemoteSource = Callable[[Callable[[], None]], Awaitable[None]]


class ProcessWakeups:
    """:class:`~eki_domain.ports.wakeups.InboxWakeups`: ``notify`` reaches every listener
    of this process at once; ``remote`` (when given) adds other processes' notifications."""

    def __init__(self, remote: RemoteSource | None = None) -> None:
        self._remote = remote
        self._listeners: list[Callable[[int], None]] = []

    def notify(self, messages: int) -> None:
        if messages > 0:
            for wake in list(self._listeners):
                wake(messages)

    async def listen(self, wake: Callable[[int], None]) -> None:
        self._listeners.append(wake)
        try:
            if self._remote is not None:
                await self._remote(lambda: wake(0))
            else:
                await asyncio.Event().wait()  # until cancelled
        finally:
            self._listeners.remove(wake)
