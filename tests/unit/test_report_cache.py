"""The TTL report cache: hits, expiry, LRU eviction, invalidation per student, threads."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from eki_adapters.cache import TTLReportCache
from eki_domain.ports.progress import ReportCache


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_it_is_a_report_cache() -> None:
    cache: ReportCache = TTLReportCache()
    assert cache.get(1, None) is None


def test_defaults() -> None:
    cache = TTLReportCache()
    assert (cache.maxsize, cache.ttl) == (10_000, 300.0)
    with pytest.raises(ValueError, match="maxsize"):
        TTLReportCache(maxsize=0)
    with pytest.raises(ValueError, match="ttl"):
        TTLReportCache(ttl=0)


def test_hits_per_student_and_variant() -> None:
    cache = TTLReportCache()
    cache.put(1, (None, None), "all of ana")
    cache.put(1, ("mate", None), "ana in maths")
    cache.put(2, (None, None), "all of bruno")
    assert cache.get(1, (None, None)) == "all of ana"
    assert cache.get(1, ("mate", None)) == "ana in maths"
    assert cache.get(2, (None, None)) == "all of bruno"
    assert cache.get(2, ("mate", None)) is None
    assert cache.get(3, (None, None)) is None
    cache.put(1, (None, None), "newer")
    assert cache.get(1, (None, None)) == "newer"
    assert len(cache) == 3


def test_entries_expire_after_the_ttl() -> None:
    timer = FakeTimer()
    cache = TTLReportCache(ttl=300, timer=timer)
    cache.put(1, None, "report")
    timer.now += 299.9
    assert cache.get(1, None) == "report"
    timer.now += 0.1
    assert cache.get(1, None) is None
    assert len(cache) == 0
    assert cache.indexed_students() == 0  # expired keys leave the index too


def test_expired_entries_leave_the_index_when_others_are_stored() -> None:
    timer = FakeTimer()
    cache = TTLReportCache(ttl=10, timer=timer)
    for student_id in range(100):
        cache.put(student_id, None, student_id)
    timer.now += 11
    cache.put(1000, None, "fresh")
    assert cache.indexed_students() == 1
    assert cache.get(5, None) is None


def test_invalidate_removes_every_variant_of_those_students_only() -> None:
    cache = TTLReportCache()
    for student_id in (1, 2, 3):
        for variant in ((None, None), ("mate", None), (None, "p1")):
            cache.put(student_id, variant, f"{student_id}{variant}")
    cache.invalidate([1, 3, 99])
    assert all(cache.get(1, v) is None for v in ((None, None), ("mate", None), (None, "p1")))
    assert all(cache.get(3, v) is None for v in ((None, None), ("mate", None), (None, "p1")))
    assert cache.get(2, ("mate", None)) == "2('mate', None)"
    assert len(cache) == 3
    assert cache.indexed_students() == 1
    cache.invalidate(iter([2]))  # any iterable
    assert len(cache) == 0


def test_invalidate_after_expiry_is_harmless() -> None:
    timer = FakeTimer()
    cache = TTLReportCache(ttl=5, timer=timer)
    cache.put(1, None, "old")
    timer.now += 10
    cache.invalidate([1])
    cache.put(1, None, "new")
    assert cache.get(1, None) == "new"
    assert cache.indexed_students() == 1


def test_least_recently_used_entries_are_evicted_and_unindexed() -> None:
    cache = TTLReportCache(maxsize=3)
    cache.put(1, "a", 1)
    cache.put(2, "a", 2)
    cache.put(3, "a", 3)
    assert cache.get(1, "a") == 1  # 2 is now the least recently used
    cache.put(4, "a", 4)
    assert cache.get(2, "a") is None
    assert [cache.get(s, "a") for s in (1, 3, 4)] == [1, 3, 4]
    assert cache.indexed_students() == 3


def test_clear() -> None:
    cache = TTLReportCache()
    cache.put(1, None, "x")
    cache.put(2, None, "y")
    cache.clear()
    assert (len(cache), cache.indexed_students(), cache.get(1, None)) == (0, 0, None)


def test_safe_under_concurrency() -> None:
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
                    cache.put(student, variant, (student, variant))
                elif action < 0.9:
                    value = cache.get(student, variant)
                    assert value is None or value == (student, variant)
                elif action < 0.99:
                    cache.invalidate([student, rng.randrange(60)])
                else:
                    cache.clear()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(worker, range(16)))
    assert errors == []
    assert len(cache) <= 200
    # the index never points at more than the cache holds, nor misses anything it holds
    cache.put(999, None, "last")
    for student in range(60):
        cache.invalidate([student])
    assert cache.get(999, None) == "last"
    assert len(cache) == 1
