"""A thread-safe TTL cache of progress reports, keyed by student and report variant.

Implements :class:`eki_domain.ports.progress.ReportCache` over :class:`cachetools.TTLCache`
(LRU with a time-to-live per entry; default 300 s, as the seed system had). Every access holds
one :class:`threading.Lock`, so reports may be read, stored and invalidated from any event
loop and thread (the methods are coroutines, as the port asks, that never wait). The cache
is per process; ``eki_adapters.redis.RedisReportCache`` is the one shared by processes.
A per-student index of keys lets :meth:`invalidate` drop every variant of a student (all
courses, all periods) without scanning the cache; entries that expire or are evicted leave
the index as they go.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from cachetools import TTLCache

Key = tuple[int, Hashable]


class _IndexedTTLCache(TTLCache[Key, object]):
    """A TTLCache that reports the keys it drops on its own (expiry and LRU eviction)."""

    def __init__(
        self,
        maxsize: int,
        ttl: float,
        timer: Callable[[], float],
        on_drop: Callable[[Key], None],
    ) -> None:
        super().__init__(maxsize, ttl, timer=timer)
        self._on_drop = on_drop

    def expire(self, time: Any = None) -> Any:
        expired = super().expire(time)
        for key, _ in expired:
            self._on_drop(key)
        return expired

    def popitem(self) -> tuple[Key, object]:
        key, value = super().popitem()
        self._on_drop(key)
        return key, value


class TTLReportCache:
    """Reports per ``(student_id, variant)`` for ``ttl`` seconds, at most ``maxsize`` of them.

    ``timer`` is the clock the TTL is measured with (inject a fake one in tests).
    """

    def __init__(
        self,
        maxsize: int = 10_000,
        ttl: float = 300.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        if maxsize <= 0:
            raise ValueError("maxsize must be positive")
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self._lock = threading.Lock()
        self._by_student: dict[int, set[Hashable]] = {}
        self._cache = _IndexedTTLCache(maxsize, ttl, timer, self._forget)

    @property
    def maxsize(self) -> float:
        return self._cache.maxsize

    @property
    def ttl(self) -> float:
        return float(self._cache.ttl)

    def _forget(self, key: Key) -> None:
        """Drop a key from the index (the lock is already held)."""
        student_id, variant = key
        variants = self._by_student.get(student_id)
        if variants is not None:
            variants.discard(variant)
            if not variants:
                del self._by_student[student_id]

    async def get(self, student_id: int, variant: Hashable) -> object | None:
        with self._lock:
            return self._cache.get((student_id, variant))

    async def put(self, student_id: int, variant: Hashable, value: object) -> None:
        with self._lock:
            self._cache[(student_id, variant)] = value
            self._by_student.setdefault(student_id, set()).add(variant)

    async def invalidate(self, student_ids: Iterable[int]) -> None:
        """Forget every cached variant of these students."""
        with self._lock:
            for student_id in set(student_ids):
                for variant in self._by_student.pop(student_id, set()):
                    self._cache.pop((student_id, variant), None)

    async def clear(self) -> None:
        with self._lock:
            self._cache.clear()
            self._by_student.clear()

    def __len__(self) -> int:
        """Live entries (expired ones are dropped first)."""
        with self._lock:
            self._cache.expire()
            return len(self._cache)

    def indexed_students(self) -> int:
        """How many students the index holds (for tests and metrics)."""
        with self._lock:
            return len(self._by_student)
