"""The fixed-window counter behind every rate limit (per sender, per client address, the
rejected-webhook log): one port, so a shared store (the ``limits`` library's Redis
storage) can replace the in-process counter without the domain importing it."""

from __future__ import annotations

from typing import Protocol


class WindowCounter(Protocol):
    """Counts hits per key in fixed windows of ``window`` seconds."""

    window: float

    def add(self, key: str, amount: int, now: float) -> tuple[int, float]:
        """Count ``amount`` more hits for ``key`` at ``now`` (seconds, any epoch); return
        (hits in the current window, seconds until it ends)."""
        ...

    def peek(self, key: str, now: float) -> tuple[int, float]:
        """The same, without counting."""
        ...
