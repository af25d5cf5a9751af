"""Adapters over the host system (time)."""

from __future__ import annotations

from eki_adapters.system.clock import FixedClock, SystemClock

__all__ = ["FixedClock", "SystemClock"]
