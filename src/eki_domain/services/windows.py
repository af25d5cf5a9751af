"""The in-process :class:`~eki_domain.ports.limits.WindowCounter`: fixed windows per key in
a dict, O(1) per hit, expired windows swept once ``sweep_at`` keys are tracked (bounds
memory when an attacker varies the key). Counts are per process (``eki_adapters.redis``
shares them between processes)."""

from __future__ import annotations


class FixedWindowCounter:
    """Hits per key in fixed windows of ``window`` seconds."""

    #: Keys tracked before expired windows are swept.
    sweep_at = 10_000

    def __init__(self, window: float = 60.0) -> None:
        if window <= 0:
            raise ValueError("window must be positive")
        self.window = window
        self._windows: dict[str, list[float]] = {}  # key -> [window start, hits]

    async def add(self, key: str, amount: int, now: float) -> tuple[int, float]:
        return self.count(key, amount, now)

    async def peek(self, key: str, now: float) -> tuple[int, float]:
        return self.look(key, now)

    def count(self, key: str, amount: int, now: float) -> tuple[int, float]:
        """:meth:`add` without awaiting (for synchronous callers in this process)."""
        entry = self._current(key, now, create=True)
        assert entry is not None
        entry[1] += amount
        return int(entry[1]), max(0.0, entry[0] + self.window - now)

    def look(self, key: str, now: float) -> tuple[int, float]:
        """:meth:`peek` without awaiting."""
        entry = self._current(key, now, create=False)
        if entry is None:
            return 0, 0.0
        return int(entry[1]), max(0.0, entry[0] + self.window - now)

    def _current(self, key: str, now: float, *, create: bool) -> list[float] | None:
        entry = self._windows.get(key)
        if entry is not None and now - entry[0] < self.window:
            return entry
        if not create:
            return None
        if entry is None and len(self._windows) >= self.sweep_at:
            self._sweep(now)
        entry = self._windows[key] = [now, 0.0]
        return entry

    def _sweep(self, now: float) -> None:
        for key in [k for k, e in self._windows.items() if now - e[0] >= self.window]:
            del self._windows[key]


class InProcessCounters:
    """The :class:`~eki_domain.ports.limits.WindowCounters` of a single process: one
    :class:`FixedWindowCounter` per name and window, made on first use."""

    def __init__(self) -> None:
        self._counters: dict[tuple[str, float], FixedWindowCounter] = {}

    def __call__(self, name: str, window: float) -> FixedWindowCounter:
        counter = self._counters.get((name, window))
        if counter is None:
            counter = self._counters[(name, window)] = FixedWindowCounter(window)
        return counter
