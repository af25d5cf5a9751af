"""Caches: the TTL cache of progress reports (cachetools)."""

from __future__ import annotations

from eki_adapters.cache.reports import TTLReportCache

__all__ = ["TTLReportCache"]
