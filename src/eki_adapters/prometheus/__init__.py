"""Prometheus metrics (prometheus-client): the domain's telemetry as counters and
histograms, and the text exposition for ``GET /metrics``."""

from __future__ import annotations

from eki_adapters.prometheus.telemetry import PrometheusTelemetry

__all__ = ["PrometheusTelemetry"]
