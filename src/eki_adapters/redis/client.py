"""The Redis connection and the rule for its outages.

:func:`connect` makes a client with short timeouts (a slow Redis must not hold a request
for long). :class:`RedisLink` wraps it for the adapters: after a failure Redis is left
alone for ``retry_after`` seconds (callers use their fallback at once instead of paying a
timeout per request), and the outage is logged as a WARNING at most once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("eki.redis")

#: What a failing Redis raises through redis-py (timeouts included).
FAILURES: tuple[type[BaseException], ...] = (RedisError, OSError, asyncio.TimeoutError)


def connect(url: str, *, timeout: float = 0.5, max_connections: int = 64,
            wait: float = 2.0) -> aioredis.Redis:
    """A client for ``url`` (redis:// or rediss://; the database number is the path). No
    connection is opened until the first command; each command may take ``timeout`` s.

    At most ``max_connections`` per process: a burst of commands waits up to ``wait`` s for
    a free one (each command takes about a millisecond) instead of opening hundreds."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=wait, socket_timeout=timeout,
        socket_connect_timeout=timeout, health_check_interval=30)
    return aioredis.Redis.from_pool(pool)


class RedisLink:
    """One client shared by the adapters of a process, with the outage rule."""

    #: Seconds between two WARNINGs about an outage.
    warn_every = 60.0

    def __init__(self, client: aioredis.Redis, *, prefix: str = "eki:",
                 retry_after: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.prefix = prefix
        self.retry_after = retry_after
        self._clock = clock
        self._down_until = 0.0
        self._warned_at: float | None = None
        self.failures = 0  # since the process started (tests, diagnostics)

    @property
    def available(self) -> bool:
        """False for ``retry_after`` seconds after a failure."""
        return self._clock() >= self._down_until

    def failed(self, what: str, exc: BaseException) -> None:
        """Record a failure of ``what`` (e.g. "rate limit"); rate-limited WARNING."""
        now = self._clock()
        self.failures += 1
        self._down_until = now + self.retry_after
        if self._warned_at is None or now - self._warned_at >= self.warn_every:
            self._warned_at = now
            log.warning("Redis is unavailable (%s: %s); %s", type(exc).__name__, exc, what)

    async def aclose(self) -> None:
        await self.client.aclose()
