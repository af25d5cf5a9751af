"""Pacing of business-initiated messages (broadcasts and alerts, issue #16).

Two limits apply to them, never to conversation replies:

* ``EKI_BROADCAST_RATE`` messages per second: a :class:`TokenBucket` per worker process,
  refilled at ``rate / live workers`` (:meth:`TokenBucket.share`), so N processes together
  send at ``rate``. Why not a bucket in the database: it would cost a locked row update per
  claim on every dispatcher of every process; the share changes only when a worker starts or
  stops (the heartbeat sweep sees it within ~2 s), and during those seconds the total is off
  by at most one worker's share.
* ``EKI_WHATSAPP_DAILY_LIMIT`` unique recipients per rolling 24 hours (Meta's messaging
  tier), counted in the database over every broadcast and alert (:data:`DAILY_WINDOW`):
  what does not fit waits for the window to free up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from eki_domain.model.messages import OutboundMessage

#: Meta's messaging-limit window: unique recipients of business-initiated messages.
DAILY_WINDOW = timedelta(hours=24)
#: A row that does not fit the daily limit waits at least this long (rows are looked at
#: again in chunks, not each time one earlier recipient leaves the window).
DEFER_AT_LEAST = timedelta(seconds=60)

#: Meta's error for a number that is not on WhatsApp (or cannot receive this message).
NO_WHATSAPP_CODE = "131026"
#: Meta's per-user marketing limit ("healthy ecosystem engagement").
MARKETING_LIMIT_CODE = "131049"

_REASONS = {
    NO_WHATSAPP_CODE: "El número no tiene WhatsApp o no puede recibir el mensaje",
    MARKETING_LIMIT_CODE: "Meta limitó los mensajes de marketing a esta persona",
    "131047": "Pasaron más de 24 horas desde el último mensaje de la persona",
    "131051": "Tipo de mensaje no admitido",
    "132000": "Los parámetros no coinciden con la plantilla",
    "132001": "La plantilla no existe o no está aprobada en ese idioma",
    "132015": "La plantilla está pausada por baja calidad",
    "132016": "La plantilla está desactivada por baja calidad",
    "130472": "El número participa en un experimento de Meta: no recibe marketing",
    "DELIVERY_UNKNOWN": "El envío se interrumpió: no se reintentó para no duplicarlo",
    "WINDOW_CLOSED": "Ventana de 24 horas cerrada",
}


def failure_reason(code: str | None, title: str | None = None) -> str:
    """The Spanish reason shown to staff for a failed send."""
    if code is None:
        return ""
    return _REASONS.get(code) or (title or f"Error {code}")


@attrs.define
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up; times come from the caller
    (the :class:`~eki_domain.ports.clock.Clock`), so tests drive it with a fake clock."""

    rate: float
    burst: float
    tokens: float = 0.0
    at: datetime | None = None
    #: The configured rate for all processes together (:meth:`share` divides it).
    total_rate: float = attrs.field(default=0.0)

    def __attrs_post_init__(self) -> None:
        if self.rate <= 0 or self.burst <= 0:
            raise ValueError("rate and burst must be positive")
        if not self.total_rate:
            self.total_rate = self.rate

    @classmethod
    def per_second(cls, rate: float) -> TokenBucket:
        """A bucket that saves up at most one second of sending."""
        return cls(rate=rate, burst=max(1.0, rate))

    def _refill(self, now: datetime) -> None:
        if self.at is None:
            self.at, self.tokens = now, min(self.burst, 1.0)
            return
        elapsed = (now - self.at).total_seconds()
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.at = now

    def available(self, now: datetime) -> int:
        """Whole tokens ready now."""
        self._refill(now)
        return int(self.tokens + 1e-9)

    def take(self, count: int, now: datetime) -> None:
        self._refill(now)
        self.tokens -= count

    def wait(self, now: datetime) -> float:
        """Seconds until the next whole token."""
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) / self.rate)

    def share(self, workers: int) -> None:
        """``workers`` processes send side by side: this one sends its share of the total."""
        workers = max(1, workers)
        self.rate = self.total_rate / workers
        self.burst = max(1.0, self.rate)
        self.tokens = min(self.tokens, self.burst)


@attrs.frozen
class BulkClaim:
    """What a claim of business-initiated rows gave: the rows, and whether some rows did not
    fit the daily limit (they wait until ``deferred_until``)."""

    messages: list[OutboundMessage] = attrs.field(factory=list)
    deferred: int = 0
    deferred_until: datetime | None = None
