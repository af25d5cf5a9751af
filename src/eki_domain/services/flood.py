"""The per-sender inbound flood limit.

Beyond ``limit`` messages from one sender within ``window`` (default 20 a minute) EKI
stops calling the assistant for that sender: the first turn over the limit gets one
notice (:data:`FLOOD_NOTICE`), later ones get silence until the window has passed.
Opt-out and opt-in words are still honoured (the conversation service checks them first).

Fixed windows per sender, counted in memory by each worker process by default (O(1) per turn, no
database round trip); with several worker processes a sender's messages may be spread
over them, so the effective limit is at most ``limit`` × processes, unless ``EKI_REDIS_URL``
gives them one shared counter (``eki_adapters.redis``).
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Final

from eki_domain.ports.limits import WindowCounter
from eki_domain.services.windows import FixedWindowCounter

FLOOD_NOTICE: Final = (
    "Estás enviando muchos mensajes seguidos. Voy a hacer una pausa corta: espera un minuto "
    "y vuelve a escribirme. 🙏"
)


class FloodVerdict(enum.Enum):
    OK = "ok"
    NOTICE = "notice"  # just went over the limit: send the notice once
    SILENT = "silent"  # still over the limit: no answer


class FloodGuard:
    """Counts messages per sender in fixed windows. ``limit=0`` turns the guard off.

    The counting is a :class:`~eki_domain.ports.limits.WindowCounter` (in process by
    default); the first turn that crosses the limit in a window gets the notice."""

    def __init__(self, limit: int = 20, window: timedelta = timedelta(minutes=1),
                 counter: WindowCounter | None = None) -> None:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if window <= timedelta(0):
            raise ValueError("window must be positive")
        self.limit = limit
        self.window = window
        self.counter: WindowCounter = counter or FixedWindowCounter(window.total_seconds())

    async def admit(self, sender: str, messages: int, now: datetime) -> FloodVerdict:
        """Count ``messages`` more from ``sender`` and say what the turn may do."""
        if self.limit == 0:
            return FloodVerdict.OK
        count, _left = await self.counter.add(sender, messages, now.timestamp())
        if count <= self.limit:
            return FloodVerdict.OK
        if count - messages > self.limit:
            return FloodVerdict.SILENT
        return FloodVerdict.NOTICE
