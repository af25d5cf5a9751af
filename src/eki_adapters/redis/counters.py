"""Fixed-window counters in Redis: one key per counted key and window, counted with one
atomic script (INCRBY, then PEXPIRE when the window is new, then PTTL), so every process
sharing the Redis sees one count. Counted keys (phone numbers, addresses) are stored hashed.

The window starts at the first hit (as the in-process
:class:`~eki_domain.services.windows.FixedWindowCounter`) and ends when the key expires:
Redis measures it, so the callers' ``now`` (which may be a per-process monotonic clock) is
not used. While Redis is unavailable the counter counts in the process instead
(:class:`~eki_adapters.redis.client.RedisLink`): limits hold per process, never fail closed.
"""

from __future__ import annotations

import hashlib

from eki_adapters.redis.client import FAILURES, RedisLink
from eki_domain.services.windows import FixedWindowCounter

# KEYS[1]: the counter; ARGV[1]: hits to add; ARGV[2]: the window in milliseconds.
_ADD = """
local hits = redis.call('INCRBY', KEYS[1], ARGV[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  left = tonumber(ARGV[2])
end
return {hits, left}
"""


class RedisWindowCounter:
    """A :class:`~eki_domain.ports.limits.WindowCounter` shared through Redis."""

    def __init__(self, link: RedisLink, name: str, window: float) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        self.window = window
        self._link = link
        self._prefix = f"{link.prefix}w:{name}:"
        self._window_ms = max(1, round(window * 1000))
        self._script = link.client.register_script(_ADD)
        self._fallback = FixedWindowCounter(window)

    def _key(self, key: str) -> str:
        # Hashed: phone numbers and addresses are not stored in Redis, and a hostile key
        # cannot make a long one.
        return self._prefix + hashlib.blake2b(key.encode(), digest_size=12).hexdigest()

    async def add(self, key: str, amount: int, now: float) -> tuple[int, float]:
        if self._link.available:
            try:
                hits, left_ms = await self._script(keys=[self._key(key)],
                                                   args=[amount, self._window_ms])
                return int(hits), max(0.0, int(left_ms) / 1000)
            except FAILURES as exc:
                self._link.failed("counting limits in this process only", exc)
        return self._fallback.count(key, amount, now)

    async def peek(self, key: str, now: float) -> tuple[int, float]:
        if self._link.available:
            try:
                async with self._link.client.pipeline(transaction=False) as pipe:
                    pipe.get(self._key(key))
                    pipe.pttl(self._key(key))
                    hits, left_ms = await pipe.execute()
                if hits is None or int(left_ms) < 0:
                    return 0, 0.0
                return int(hits), int(left_ms) / 1000
            except FAILURES as exc:
                self._link.failed("counting limits in this process only", exc)
        return self._fallback.look(key, now)


class RedisCounters:
    """The :class:`~eki_domain.ports.limits.WindowCounters` of a process whose counts are
    shared through Redis (one counter object per name and window)."""

    def __init__(self, link: RedisLink) -> None:
        self._link = link
        self._counters: dict[tuple[str, float], RedisWindowCounter] = {}

    def __call__(self, name: str, window: float) -> RedisWindowCounter:
        counter = self._counters.get((name, window))
        if counter is None:
            counter = self._counters[(name, window)] = RedisWindowCounter(
                self._link, name, window)
        return counter
