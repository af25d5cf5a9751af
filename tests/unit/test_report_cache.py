"""The TTL report cache: hits, expiry, LRU eviction, invalidation per student, threads."""

from __future__ import annotations

import random
import threading
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest

from eki_adapters.cache import TTLReportCache
from eki_domain.ports.progress import ReportCache

T = TypeVar("T")


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_it_is_a_report_cache() -> None:
    cache: ReportCache = TTLReportCache()
    assert await cache.get(1, None) is None


async def test_defaults() -> None:
    cache = TTLReportCache()
    assert (cache.maxsize, cache.ttl) == (10_000, 300.0)
    with pytest.raises(ValueError, match="maxsize"):
        TTLReportCache(maxsize=0)
    with pytest.raises(ValueError, match="ttl"):
        TTLReportCache(ttl=0)


async def test_hits_per_student_and_variant() -> None:
    cache = TTLReportCache()
    await cache.put(1, (None, None), "all of ana")
    await cache.put(1, ("mate", None), "ana in maths")
    await cache.put(2, (None, None), "all of bruno")
    assert await cache.get(1, (None, None)) == "all of ana"
    assert await cache.get(1, ("mate", None)) == "ana in maths"
    assert await cache.get(2, (None, None)) == "all of bruno"
    assert await cache.get(2, ("mate", None)) is None
    assert await cache.get(3, (None, None)) is None
    await cache.put(1, (None, None), "newer")
    assert await cache.get(1, (None, None)) == "newer"
    assert len(cache) == 3


async def test_entries_expire_after_the_ttl() -> None:
    timer = FakeTimer()
    cache = TTLReportCache(ttl=300, timer=timer)
    await cache.put(1, None, "report")
    timer.now += 299.9
    assert await cache.get(1, None) == "report"
    timer.now += 0.1
    assert await cache.get(1, None) is None
    assert len(cache) == 0
    assert cache.indexed_students() == 0  # expired keys leave the index too


async def test_expired_entries_leave_the_index_when_others_are_stored() -> None:
    timer = FakeTimer()
    cache = TTLReportCache(ttl=10, timer=timer)
    for student_id in range(100):
        await cache.put(student_id, None, student_id)
    timer.now += 11
    await cache.put(1000, None, "fresh")
    assert cache.indexed_students() == 1
    assert await cache.get(5, None) is None


async def test_invalidate_removes_every_variant_of_those_students_only() -> None:
    cache = TTLReportCache()
    for student_id in (1, 2, 3):
        for variant in ((None, None), ("mate", None), (None, "p1")):
            await cache.put(student_id, variant, f"{student_id}{variant}")
    await cache.invalidate([1, 3, 99])
    assert [await cache.get(1, v)
            for v in ((None, None), ("mate", None), (None, "p1"))] == [None] * 3
    assert [await cache.get(3, v)
            for v in ((None, None), ("mate", None), (None, "p1"))] == [None] * 3
    assert await cache.get(2, ("mate", None)) == "2('mate', None)"
    assert len(cache) == 3
    assert cache.indexed_students() == 1
    await cache.invalidate(iter([2]))  # any iterable
    assert len(cache) == 0


async def test_invalidate_after_expiry_is_harmless() -> None:
    timer = FakeTimer()
    cache = TTLReportCache(ttl=5, timer=timer)
    await cache.put(1, None, "old")
    timer.now += 10
    await cache.invalidate([1])
    await cache.put(1, None, "new")
    assert await cache.get(1, None) == "new"
    assert cache.indexed_students() == 1


async def test_least_recently_used_entries_are_evicted_and_unindexed() -> None:
    cache = TTLReportCache(maxsize=3)
    await cache.put(1, "a", 1)
    await cache.put(2, "a", 2)
    await cache.put(3, "a", 3)
    assert await cache.get(1, "a") == 1  # 2 is now the least recently used
    await cache.put(4, "a", 4)
    assert await cache.get(2, "a") is None
    assert [await cache.get(s, "a") for s in (1, 3, 4)] == [1, 3, 4]
    assert cache.indexed_students() == 3


async def test_clear() -> None:
    cache = TTLReportCache()
    await cache.put(1, None, "x")
    await cache.put(2, None, "y")
    await cache.clear()
    assert (len(cache), cache.indexed_students(), await cache.get(1, None)) == (0, 0, None)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Drive one of the TTL cache's coroutines (they never wait) to its result, in the
    calling thread: the cache is shared by threads, each with its own loop or none."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    raise AssertionError("the TTL cache waited")


async def test_safe_under_concurrency() -> None:
    timer_lock = threading.Lock()
    ticks = [0.0]

    def timer() -> float:
        with timer_lock:
            ticks[0] += 0.001
            return ticks[0]

    cache = TTLReportCache(maxsize=200, ttl=2.0, timer=timer)
    errors: list[BaseException] = []

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(2000):
                student = rng.randrange(60)
                variant = rng.choice([(None, None), ("mate", None), (None, "p1")])
                action = rng.random()
                if action < 0.5:
                    run(cache.put(student, variant, (student, variant)))
                elif action < 0.9:
                    value = run(cache.get(student, variant))
                    assert value is None or value == (student, variant)
                elif action < 0.99:
                    run(cache.invalidate([student, rng.randrange(60)]))
                else:
                    run(cache.clear())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(worker, range(16)))
    assert errors == []
    assert len(cache) <= 200
    # the index never points at more than the cache holds, nor misses anything it holds
    await cache.put(999, None, "last")
    for student in range(60):
        await cache.invalidate([student])
    assert await cache.get(999, None) == "last"
    assert len(cache) == 1
