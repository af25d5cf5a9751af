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

from collections.abc import Collection, Sequence
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

#: Spanish reasons of delivery failures (Meta's codes, Twilio's and EKI's own), shown to
#: staff in the inbox, the broadcast results and their CSV.
FAILURE_REASONS = {
    "WINDOW_CLOSED": "ventana de 24 horas cerrada",
    "131047": "ventana de 24 horas cerrada",
    "63016": "ventana de 24 horas cerrada",
    NO_WHATSAPP_CODE: "el número no puede recibir mensajes de WhatsApp",
    MARKETING_LIMIT_CODE: "Meta limitó los mensajes de marketing a esta persona",
    "131050": "la persona dejó de recibir mensajes de marketing",
    "131051": "tipo de mensaje no admitido",
    "131021": "el destinatario es el mismo número del colegio",
    "130429": "límite de envíos de WhatsApp alcanzado",
    "130472": "el número participa en un experimento de Meta: no recibe marketing",
    "131056": "demasiados mensajes seguidos a esta persona",
    "131048": "límite por spam: WhatsApp frenó los envíos",
    "132000": "la plantilla no tiene los parámetros correctos",
    "132001": "la plantilla no existe o no está aprobada en ese idioma",
    "132015": "la plantilla está en pausa por baja calidad",
    "132016": "la plantilla está deshabilitada por baja calidad",
    "131000": "error de WhatsApp; se puede intentar de nuevo",
    "131016": "WhatsApp no está disponible por ahora",
    "DELIVERY_UNKNOWN": "no se supo si salió (el envío se interrumpió; no se reintentó para "
                        "no duplicarlo)",
    "CANCELLED": "difusión cancelada",
    "OPTED_OUT": "la persona pidió no recibir mensajes (BAJA)",
    "21610": "la persona pidió no recibir mensajes (STOP)",
    "30003": "el teléfono no está disponible",
    "30005": "número desconocido",
    "30006": "el número no puede recibir mensajes",
    "30008": "error desconocido del operador",
}


def failure_reason(code: str | None, title: str | None = None) -> str:
    """A Spanish reason for a failed message (the provider's title when the code is new)."""
    if code is not None and code in FAILURE_REASONS:
        return FAILURE_REASONS[code]
    if title:
        return f"error {code}: {title}" if code else title
    return f"error {code}" if code else "error desconocido"


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


def fit_daily_limit(recipients: Sequence[str], in_window: Collection[str],
                    room: int) -> tuple[list[int], int]:
    """Which candidates (their recipients, in claim order) go now: everyone already messaged
    in the window, and new recipients while ``room`` (the daily limit minus the window's
    unique recipients) lasts. Returns their positions and how many must wait."""
    chosen: list[int] = []
    deferred = 0
    for position, to in enumerate(recipients):
        if to in in_window:
            chosen.append(position)
        elif room > 0:
            room -= 1
            chosen.append(position)
        else:
            deferred += 1
    return chosen, deferred


@attrs.frozen
class BulkClaim:
    """What a claim of business-initiated rows gave: the rows, and whether some rows did not
    fit the daily limit (they wait until ``deferred_until``)."""

    messages: list[OutboundMessage] = attrs.field(factory=list)
    deferred: int = 0
    deferred_until: datetime | None = None
