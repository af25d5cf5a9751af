"""The same cases on the in-process adapters and on the Redis ones (real local Redis):
fixed-window counters (rate limits, flood) and the progress-report cache. Then what only the
Redis ones do: share counts and invalidations between processes (two clients here), and keep
EKI running when Redis is down."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import date

import attrs
import pytest
import redis.asyncio as aioredis

from eki_adapters.cache import TTLReportCache
from eki_adapters.redis import (
    AttrsJsonCodec,
    RedisCounters,
    RedisLink,
    RedisReportCache,
    RedisWindowCounter,
    connect,
)
from eki_domain.model.progress import (
    DEFAULT_SCALE,
    Assessment,
    AttendanceRecord,
    AttendanceStatus,
    Course,
    ProgressReport,
    Result,
    ResultStatus,
    StudentRecordBook,
)
from eki_domain.ports.limits import WindowCounter
from eki_domain.ports.progress import ReportCache
from eki_domain.services.progress import build_report
from eki_domain.services.windows import FixedWindowCounter, InProcessCounters
from tests.integration.redis_server import random_prefix, redis_url_or_skip


class FakeTimer:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@attrs.define
class Backend:
    """Makes adapters of one kind; ``link`` makes another "process" on the same store."""

    name: str
    counter: Callable[[float], WindowCounter]
    cache: Callable[[float, FakeTimer], ReportCache]


async def _delete_prefix(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
async def redis_link() -> AsyncIterator[Callable[[], RedisLink]]:
    """Makes links (each its own client, like separate processes) under one random
    prefix, deleted afterwards."""
    url = redis_url_or_skip()
    prefix = random_prefix()
    links: list[RedisLink] = []

    def make() -> RedisLink:
        link = RedisLink(connect(url), prefix=prefix)
        links.append(link)
        return link

    yield make
    for link in links:
        await link.aclose()
    await _delete_prefix(url, prefix)


@pytest.fixture(params=["in-process", "redis"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "in-process":
        return Backend("in-process", FixedWindowCounter,
                       lambda ttl, timer: TTLReportCache(ttl=ttl, timer=timer))
    make: Callable[[], RedisLink] = request.getfixturevalue("redis_link")
    link = make()
    return Backend("redis", lambda window: RedisWindowCounter(link, "test", window),
                   lambda ttl, timer: RedisReportCache(link, ttl=ttl, timer=timer))


# -- window counters ---------------------------------------------------------------------------


async def test_counts_hits_per_key_in_a_window(backend: Backend) -> None:
    counter = backend.counter(60.0)
    now = time.monotonic()
    assert await counter.peek("ana", now) == (0, 0.0)
    hits, left = await counter.add("ana", 1, now)
    assert hits == 1 and 59.0 < left <= 60.0
    hits, left = await counter.add("ana", 2, now + 0.01)
    assert hits == 3 and 59.0 < left <= 60.0
    assert (await counter.peek("ana", now + 0.02))[0] == 3  # peeking counts nothing
    assert (await counter.peek("ana", now + 0.02))[0] == 3
    assert (await counter.add("bruno", 1, now))[0] == 1
    assert counter.window == 60.0


async def test_a_new_window_starts_after_the_last_one_ended(backend: Backend) -> None:
    counter = backend.counter(0.3)
    start = time.monotonic()
    assert (await counter.add("ana", 5, start))[0] == 5
    await asyncio.sleep(0.4)
    hits, left = await counter.add("ana", 1, time.monotonic())
    assert hits == 1 and 0.0 < left <= 0.3 + 1e-9
    assert await counter.peek("nobody", time.monotonic()) == (0, 0.0)


async def test_concurrent_hits_are_each_counted_once(backend: Backend) -> None:
    counter = backend.counter(60.0)
    now = time.monotonic()
    counts = await asyncio.gather(*(counter.add("ana", 1, now) for _ in range(50)))
    assert sorted(hits for hits, _left in counts) == list(range(1, 51))


async def test_hostile_keys_are_counted_like_any_other(backend: Backend) -> None:
    counter = backend.counter(60.0)
    now = time.monotonic()
    for key in ("", "x" * 100_000, "ñ:*?[]\r\n", "eki:w:test:"):
        assert (await counter.add(key, 1, now))[0] == 1
        assert (await counter.add(key, 1, now))[0] == 2


async def test_the_flood_guard_and_the_rate_limiter_run_on_either_counter(
        backend: Backend) -> None:
    from datetime import UTC, datetime

    from eki_domain.services.flood import FloodGuard, FloodVerdict
    from eki_entrypoints.web.ratelimit import RateLimiter

    guard = FloodGuard(limit=2, counter=backend.counter(60.0))
    when = datetime(2026, 3, 2, 15, tzinfo=UTC)
    assert [await guard.admit("573001234567", 1, when) for _ in range(4)] == [
        FloodVerdict.OK, FloodVerdict.OK, FloodVerdict.NOTICE, FloodVerdict.SILENT]
    limiter = RateLimiter(2, window=60.0, counter=backend.counter(60.0))
    assert [await limiter.check("10.0.0.1") is None for _ in range(3)] == [True, True, False]
    assert 0 < (await limiter.check("10.0.0.1") or 0) <= 60


# -- report caches -----------------------------------------------------------------------------

DAY = date(2026, 3, 10)


def report(score: float = 4.0, *, course: str | None = None) -> ProgressReport:
    """A real report: courses, grades, pending work, attendance, enums and dates."""
    book = StudentRecordBook(
        courses=(Course(1, "Matemáticas", "MAT-10", "P1"), Course(2, "Inglés")),
        assessments=(Assessment(1, 1, "Taller 1", weight=50.0),
                     Assessment(2, 1, "Examen", due_date=date(2026, 3, 1)),
                     Assessment(3, 2, "Ensayo", max_score=10.0, period="P1")),
        results=(Result(1, ResultStatus.GRADED, score), Result(3, ResultStatus.GRADED, 8.5)),
        attendance=(AttendanceRecord(1, date(2026, 3, 2), AttendanceStatus.ABSENT),
                    AttendanceRecord(2, date(2026, 3, 3), AttendanceStatus.LATE)),
    )
    return build_report(book, DEFAULT_SCALE, course=course, today=DAY)


VARIANTS = [(None, None), ("matematicas", None), (None, "p1")]


async def test_reports_are_kept_per_student_and_variant(backend: Backend) -> None:
    cache = backend.cache(300.0, FakeTimer())
    assert await cache.get(1, (None, None)) is None
    await cache.put(1, (None, None), report(4.0))
    await cache.put(1, ("matematicas", None), report(4.0, course="mate"))
    await cache.put(2, (None, None), report(3.0))
    assert await cache.get(1, (None, None)) == report(4.0)
    assert await cache.get(1, ("matematicas", None)) == report(4.0, course="mate")
    assert await cache.get(2, (None, None)) == report(3.0)
    assert await cache.get(2, ("matematicas", None)) is None
    assert await cache.get(3, (None, None)) is None
    await cache.put(1, (None, None), report(5.0))
    assert await cache.get(1, (None, None)) == report(5.0)


async def test_invalidate_drops_every_variant_of_those_students_only(
        backend: Backend) -> None:
    cache = backend.cache(300.0, FakeTimer())
    for student_id in (1, 2, 3):
        for variant in VARIANTS:
            await cache.put(student_id, variant, report(float(student_id)))
    await cache.invalidate([1, 3, 99])
    assert [await cache.get(s, v) for s in (1, 3) for v in VARIANTS] == [None] * 6
    assert await cache.get(2, ("matematicas", None)) == report(2.0)
    await cache.invalidate(iter([2]))  # any iterable
    await cache.invalidate([])
    assert [await cache.get(2, v) for v in VARIANTS] == [None] * 3


async def test_entries_expire_after_the_ttl(backend: Backend) -> None:
    timer = FakeTimer()
    cache = backend.cache(300.0, timer)
    await cache.put(1, None, report())
    timer.now += 299.9
    assert await cache.get(1, None) == report()
    timer.now += 0.1
    assert await cache.get(1, None) is None


async def test_clear_drops_everything_and_later_puts_count(backend: Backend) -> None:
    cache = backend.cache(300.0, FakeTimer())
    await cache.put(1, None, report(1.0))
    await cache.put(2, None, report(2.0))
    await cache.clear()
    assert (await cache.get(1, None), await cache.get(2, None)) == (None, None)
    await cache.put(1, None, report(3.0))
    assert await cache.get(1, None) == report(3.0)


# -- only Redis: several processes -------------------------------------------------------------


async def test_processes_share_one_count(redis_link: Callable[[], RedisLink]) -> None:
    one, two = RedisCounters(redis_link()), RedisCounters(redis_link())
    now = time.monotonic()
    await one("rate:api", 60.0).add("10.0.0.1", 3, now)
    assert (await two("rate:api", 60.0).add("10.0.0.1", 1, now + 500))[0] == 4
    assert (await two("rate:api", 60.0).peek("10.0.0.1", 0.0))[0] == 4
    assert (await two("rate:login", 60.0).add("10.0.0.1", 1, now))[0] == 1  # another name
    assert one("flood", 60.0) is one("flood", 60.0)
    in_process = InProcessCounters()
    assert in_process("flood", 60.0) is in_process("flood", 60.0)
    assert in_process("flood", 60.0) is not in_process("rate:api", 60.0)


async def test_an_invalidation_in_one_process_reaches_the_others(
        redis_link: Callable[[], RedisLink]) -> None:
    serving, importing = (RedisReportCache(redis_link()), RedisReportCache(redis_link()))
    await serving.put(7, (None, None), report(4.0))
    await serving.put(8, (None, None), report(3.0))
    assert await importing.get(7, (None, None)) == report(4.0)
    await importing.invalidate([7])
    assert await serving.get(7, (None, None)) is None
    assert await serving.get(8, (None, None)) == report(3.0)
    await importing.clear()
    assert await serving.get(8, (None, None)) is None


async def test_phone_numbers_are_not_stored_in_redis_keys(
        redis_link: Callable[[], RedisLink]) -> None:
    link = redis_link()
    await RedisWindowCounter(link, "flood", 60.0).add("573001234567", 1, 0.0)
    keys = [key async for key in link.client.scan_iter(match=f"{link.prefix}*")]
    assert len(keys) == 1 and b"573001234567" not in keys[0]


async def test_a_damaged_or_foreign_entry_is_a_miss(
        redis_link: Callable[[], RedisLink]) -> None:
    link = redis_link()
    cache = RedisReportCache(link)
    await cache.put(7, None, report())
    key = f"{link.prefix}r:7"
    field = next(iter(await link.client.hkeys(key)))
    now = f"{time.time()}".encode()
    for junk in (b"garbage", b"0|x|{}", b"0|" + now + b"|{}", b"0|" + now + b"|[1]",
                 b"0|" + now + b'|{"courses": 5}', b"0|" + now + b"|not json"):
        await link.client.hset(key, field, junk)
        assert await cache.get(7, None) is None
    with pytest.raises(TypeError):
        await cache.put(7, None, "not a report")
    codec = AttrsJsonCodec(ProgressReport)
    assert codec.decode(codec.encode(report())) == report()


# -- only Redis: an outage -----------------------------------------------------------------------


async def test_redis_down_limits_count_per_process_and_reports_are_computed(
        caplog: pytest.LogCaptureFixture) -> None:
    clock = [100.0]
    link = RedisLink(connect("redis://127.0.0.1:1/0", timeout=0.2), retry_after=5.0,
                     clock=lambda: clock[0])
    try:
        counter = RedisCounters(link)("rate:api", 60.0)
        cache = RedisReportCache(link)
        with caplog.at_level(logging.WARNING, logger="eki.redis"):
            assert [(await counter.add("a", 1, 0.0))[0] for _ in range(3)] == [1, 2, 3]
            assert (await counter.peek("a", 1.0))[0] == 3
            await cache.put(7, None, report())
            assert await cache.get(7, None) is None
            await cache.invalidate([7])
            await cache.clear()
        assert link.failures == 3  # the first add, invalidate and clear: the rest waited
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "Redis is unavailable" in warnings[0].getMessage()
        clock[0] += 5.0  # tried again after retry_after; warned again only after a minute
        assert (await counter.add("a", 1, 2.0))[0] == 4
        assert link.failures == 4
        clock[0] += 60.0
        with caplog.at_level(logging.WARNING, logger="eki.redis"):
            await counter.add("a", 1, 3.0)
        assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
    finally:
        await link.aclose()
