"""Adapters over the host system (time, in-process wake-ups)."""

from __future__ import annotations

from eki_adapters.system.clock import FixedClock, SystemClock
from eki_adapters.system.wakeups import ProcessWakeups

__all__ = ["FixedClock", "ProcessWakeups", "SystemClock"]
