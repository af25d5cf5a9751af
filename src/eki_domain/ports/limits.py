"""The fixed-window counter behind every rate limit (per sender, per client address, the
rejected-webhook log): one port, so a shared store (``eki_adapters.redis``, used when
``EKI_REDIS_URL`` is set) can replace the in-process counter without the domain importing
it. The methods are coroutines because a shared store is a network round trip away."""

from __future__ import annotations

from typing import Protocol


class WindowCounter(Protocol):
    """Counts hits per key in fixed windows of ``window`` seconds."""

    window: float

    async def add(self, key: str, amount: int, now: float) -> tuple[int, float]:
        """Count ``amount`` more hits for ``key`` at ``now`` (seconds, any epoch); return
        (hits in the current window, seconds until it ends)."""
        ...

    async def peek(self, key: str, now: float) -> tuple[int, float]:
        """The same, without counting."""
        ...


class WindowCounters(Protocol):
    """Makes the counters of one process: ``counters("flood", 60.0)``. Counters of one
    ``name`` share their hits (across processes when the store is shared)."""

    def __call__(self, name: str, window: float) -> WindowCounter: ...
