"""Shared state for several processes in Redis (redis-py's asyncio client), used when
``EKI_REDIS_URL`` is set: fixed-window counters (rate limits, the flood limit) and the
progress-report cache.

A Redis outage never takes EKI down: the counters fall back to counting in the process
(each process then enforces its own limit) and the cache to computing every report; a
WARNING says so at most once a minute. See docs/operations.md, "Several processes".
"""

from __future__ import annotations

from eki_adapters.redis.client import RedisLink, connect
from eki_adapters.redis.codec import AttrsJsonCodec
from eki_adapters.redis.counters import RedisCounters, RedisWindowCounter
from eki_adapters.redis.reports import RedisReportCache

__all__ = ["AttrsJsonCodec", "RedisCounters", "RedisLink", "RedisReportCache",
           "RedisWindowCounter", "connect"]
