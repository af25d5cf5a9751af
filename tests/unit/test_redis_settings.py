"""EKI_REDIS_URL and EKI_REDIS_PREFIX: validated, secret, and what bootstrap wires from
them (no Redis server needed: redis-py connects on the first command)."""

from __future__ import annotations

import pytest

from eki_adapters.cache import TTLReportCache
from eki_adapters.memory import InMemoryStore
from eki_adapters.redis import RedisCounters, RedisReportCache
from eki_domain.services.windows import InProcessCounters
from eki_entrypoints.bootstrap import bootstrap, shared_state
from eki_entrypoints.settings import Settings, SettingsError
from eki_entrypoints.web.ratelimit import RateLimiter

SECRET_URL = "redis://:s3cr3t-pass@cache.internal:6380/2"


def test_the_url_is_a_secret_with_a_redis_scheme() -> None:
    settings = Settings.from_env({"EKI_REDIS_URL": SECRET_URL})
    assert settings.redis_url is not None and settings.redis_url.get() == SECRET_URL
    assert "s3cr3t-pass" not in repr(settings)
    assert Settings.from_env({}).redis_url is None
    assert Settings.from_env({"EKI_REDIS_URL": "rediss://cache:6379"}).redis_url is not None


@pytest.mark.parametrize(("raw", "message"), [
    ("http://:s3cr3t-pass@cache:6379/0", "redis:// or rediss://"),
    ("unix:///run/redis.sock", "redis:// or rediss://"),
    ("redis://", "needs a host"),
    ("redis://:s3cr3t-pass@cache:99999/0", "not a valid URL"),
    ("redis://:s3cr3t-pass@cache:6379/zero", "database number"),
])
def test_bad_urls_are_refused_without_showing_the_password(raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message) as refused:
        Settings.from_env({"EKI_REDIS_URL": raw})
    assert "s3cr3t-pass" not in str(refused.value)


def test_the_prefix() -> None:
    assert Settings.from_env({}).redis_prefix == "eki:"
    assert Settings.from_env({"EKI_REDIS_PREFIX": "eki-staging:"}).redis_prefix == (
        "eki-staging:")
    for bad in ("a b", "x" * 65, "eki:*"):
        with pytest.raises(SettingsError, match="EKI_REDIS_PREFIX"):
            Settings.from_env({"EKI_REDIS_PREFIX": bad})


async def test_without_a_url_each_process_keeps_its_own_state() -> None:
    counters, cache, link = shared_state(Settings.from_env({}))
    assert isinstance(counters, InProcessCounters) and isinstance(cache, TTLReportCache)
    assert link is None
    _c, no_cache, _l = shared_state(Settings.from_env({"EKI_REPORT_CACHE_TTL": "0"}))
    assert no_cache is None


async def test_with_a_url_bootstrap_wires_redis_and_closes_it() -> None:
    settings = Settings.from_env({"EKI_REDIS_URL": "redis://127.0.0.1:6379/3",
                                  "EKI_REDIS_PREFIX": "p:"})
    counters, cache, link = shared_state(settings)
    assert isinstance(counters, RedisCounters) and isinstance(cache, RedisReportCache)
    assert link is not None and link.prefix == "p:"
    assert link.client.connection_pool.connection_kwargs["db"] == 3
    await link.aclose()
    eki = await bootstrap(settings, uow=InMemoryStore().uow)
    try:
        assert isinstance(eki.counters, RedisCounters)
        assert eki.conversation._flood is not None  # type: ignore[attr-defined]
        assert eki.conversation._flood.counter is eki.counters("flood", 60.0)  # type: ignore[attr-defined]
    finally:
        await eki.aclose()


async def test_a_rate_limiter_counts_with_the_shared_counters_once_bound() -> None:
    counters = InProcessCounters()
    limiter = RateLimiter(2, window=60, clock=lambda: 100.0)
    assert [await limiter.check("a") for _ in range(2)] == [None, None]
    limiter.share(counters, "rate:api")
    assert limiter.counter is counters("rate:api", 60)
    assert await limiter.check("a") is None  # a fresh (shared) count
    await counters("rate:api", 60).add("a", 5, 100.0)  # another process's hits
    assert await limiter.check("a") == pytest.approx(60)
    limiter.share(InProcessCounters(), "rate:api")  # bound once: later binds change nothing
    assert limiter.counter is counters("rate:api", 60)
    # the synchronous path (bearer-token failures) counts in this process: the two hits
    # counted before the binding, not the shared ones
    assert limiter.blocked("a") is None
    assert limiter.hit("a") == pytest.approx(60) and limiter.blocked("a") == pytest.approx(60)
