"""The per-sender inbound flood limit.

Beyond ``limit`` messages from one sender within ``window`` (default 20 a minute) EKI
stops calling the assistant for that sender: the first turn over the limit gets one
notice (:data:`FLOOD_NOTICE`), later ones get silence until the window has passed.
Opt-out and opt-in words are still honoured (the conversation service checks them first).

Fixed windows per sender, counted in memory by each worker process (O(1) per turn, no
database round trip); with several worker processes a sender's messages may be spread
over them, so the effective limit is at most ``limit`` × processes.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Final

FLOOD_NOTICE: Final = (
    "Estás enviando muchos mensajes seguidos. Voy a hacer una pausa corta: espera un minuto "
    "y vuelve a escribirme. 🙏"
)


class FloodVerdict(enum.Enum):
    OK = "ok"
    NOTICE = "notice"  # just went over the limit: send the notice once
    SILENT = "silent"  # still over the limit: no answer


class _Window:
    __slots__ = ("count", "noticed", "start")

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.count = 0
        self.noticed = False


class FloodGuard:
    """Counts messages per sender in fixed windows. ``limit=0`` turns the guard off."""

    #: Senders tracked before expired windows are swept (bounds memory under attack).
    sweep_at = 10_000

    def __init__(self, limit: int = 20, window: timedelta = timedelta(minutes=1)) -> None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        self.limit = limit
        self.window = window
        self._senders: dict[str, _Window] = {}

    def admit(self, sender: str, messages: int, now: datetime) -> FloodVerdict:
        """Count ``messages`` more from ``sender`` and say what the turn may do."""
        if self.limit == 0:
            return FloodVerdict.OK
        current = self._senders.get(sender)
        if current is None or now - current.start >= self.window:
            if current is None and len(self._senders) >= self.sweep_at:
                self._sweep(now)
            current = self._senders[sender] = _Window(now)
        current.count += messages
        if current.count <= self.limit:
            return FloodVerdict.OK
        if current.noticed:
            return FloodVerdict.SILENT
        current.noticed = True
        return FloodVerdict.NOTICE

    def _sweep(self, now: datetime) -> None:
        expired = [s for s, w in self._senders.items() if now - w.start >= self.window]
        for sender in expired:
            del self._senders[sender]
