"""Sending the outbox through the channel, exactly once per row.

A row is claimed (``sending``, leased) before the call and gets the channel's id
after it. Transient failures come back later with growing delays; permanent ones
(outside the 24 h window, undeliverable, bad token…) are recorded with their code.
A row whose worker died mid-call is not resent (``DELIVERY_UNKNOWN``): a second send
could reach the student twice.

Replies and staff messages are claimed first; broadcasts and alerts (business-initiated)
fill what is left of a batch, paced by a token bucket (``EKI_BROADCAST_RATE``, shared by
the live workers) and within ``EKI_WHATSAPP_DAILY_LIMIT`` unique recipients per rolling
24 h (:mod:`eki_domain.model.pacing`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from eki_domain.errors import DeliveryError
from eki_domain.model.events import MessagesDispatched
from eki_domain.model.messages import OutboundMessage
from eki_domain.model.pacing import DAILY_WINDOW, NO_WHATSAPP_CODE, TokenBucket
from eki_domain.model.phone import mask_phone
from eki_domain.model.schedule import QuietHours, window_open
from eki_domain.ports.channel import MessageChannel, SendReceipt
from eki_domain.ports.clock import Clock
from eki_domain.ports.messaging import NoWhatsApp, Outbox
from eki_domain.ports.outbound import ServiceWindows
from eki_domain.ports.repositories import Transaction
from eki_domain.ports.telemetry import NO_TELEMETRY, Telemetry
from eki_domain.services.messagebus import MessageBus

log = logging.getLogger("eki.delivery")


@attrs.frozen
class DeliveryOutcome:
    message_id: int
    status: str  # "sent" | "retry" | "failed"
    provider_id: str | None = None
    error_code: str | None = None


class DeliveryUnitOfWork(Transaction, Protocol):
    """What this use case needs of a unit of work (``SqlUnitOfWork`` and
    ``InMemoryUnitOfWork`` are one)."""

    @property
    def outbox(self) -> Outbox: ...

    @property
    def windows(self) -> ServiceWindows: ...

    @property
    def no_whatsapp(self) -> NoWhatsApp: ...


class DeliveryService:
    def __init__(
        self,
        uow: Callable[[], DeliveryUnitOfWork],
        clock: Clock,
        channel: MessageChannel,
        *,
        lease: timedelta = timedelta(seconds=90),
        max_attempts: int = 6,
        retry_base: timedelta = timedelta(seconds=15),
        retry_max: timedelta = timedelta(minutes=30),
        batch_size: int = 20,
        telemetry: Telemetry = NO_TELEMETRY,
        bus: MessageBus | None = None,
        broadcast_rate: float = 20.0,
        daily_limit: int = 2000,
        bulk_idle: timedelta = timedelta(seconds=1),
        quiet: QuietHours | None = None,
    ) -> None:
        self._uow = uow
        self._bus = bus or MessageBus()
        self._clock = clock
        self.channel = channel
        self._lease = lease
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._batch_size = batch_size
        self._telemetry = telemetry
        self.bucket = TokenBucket.per_second(broadcast_rate)
        self.daily_limit = daily_limit
        #: EKI_QUIET_HOURS: alerts queued before they began wait for their end.
        self._quiet = quiet
        #: No business-initiated row was due: do not look again before this (a reply's
        #: dispatch does not pay for the broadcast lane while there is no broadcast).
        self._bulk_idle = bulk_idle
        self._bulk_next: datetime | None = None
        #: The last claim took every token while more rows were due.
        self.bulk_backlog = False

    def share_rate(self, workers: int) -> None:
        """``workers`` live workers send broadcasts side by side: each takes its share of
        ``EKI_BROADCAST_RATE``."""
        self.bucket.share(workers)

    def wake_bulk(self) -> None:
        """New broadcast or alert rows: look at them at the next dispatch."""
        self._bulk_next = None

    def bulk_wait(self) -> float | None:
        """Seconds until the next broadcast token when rows wait for one (how long a
        dispatcher may sleep), else None."""
        return self.bucket.wait(self._clock.now()) if self.bulk_backlog else None

    @property
    def batch_size(self) -> int:
        """Most messages one :meth:`dispatch_due` call sends."""
        return self._batch_size

    async def dispatch_due(self, *, channels: Sequence[str] | None = None,
                           owner: str | None = None) -> list[DeliveryOutcome]:
        """Send every message that is due now (one per recipient at a time), claimed by
        ``owner`` (a worker id with a heartbeat) when given."""
        now = self._clock.now()
        async with self._uow() as uow:
            due = await uow.outbox.claim_due(now, self._lease, self._batch_size,
                                             channels=channels, owner=owner,
                                             priority_only=True)
            room = self._batch_size - len(due)
            if room > 0 and (self._bulk_next is None or now >= self._bulk_next):
                tokens = min(room, self.bucket.available(now))
                if tokens > 0 and self._quiet is not None and self._quiet.is_quiet(now):
                    held = await uow.outbox.hold_alerts(now, self._quiet.next_allowed(now))
                    if held:
                        log.info("quiet hours: %d alert(s) wait until %s", held,
                                 self._quiet.next_allowed(now))
                if tokens > 0:
                    bulk = await uow.outbox.claim_bulk(
                        now, self._lease, tokens, daily_limit=self.daily_limit,
                        window=DAILY_WINDOW, channels=channels, owner=owner)
                    self.bucket.take(len(bulk.messages), now)
                    due.extend(bulk.messages)
                    # Paced, not drained: the dispatcher comes back for the next tokens.
                    self.bulk_backlog = len(bulk.messages) == tokens < room
                    if not bulk.messages:
                        self._bulk_next = now + self._bulk_idle
                    if bulk.deferred:
                        log.info("daily limit of %d recipients reached: %d message(s) wait "
                                 "until %s", self.daily_limit, bulk.deferred,
                                 bulk.deferred_until)
            closed = await _closed_windows(uow.windows, due, now)
            await uow.commit()
        if not due:
            return []
        attempts = await asyncio.gather(*(
            self._attempt(message) if message.id not in closed
            else _window_closed(message) for message in due))
        # Blue ticks for what was sent, while the outcomes are being saved (side by side:
        # the next batch waits for neither one after the other).
        reads = [m.mark_read for m, result in attempts
                 if isinstance(result, SendReceipt) and m.mark_read]
        outcomes, _ = await asyncio.gather(self._record(attempts), self._mark_reads(reads))
        return outcomes

    async def fail_abandoned(self, live_owners: Collection[str] | None = None) -> int:
        """Rows left ``sending`` by a stopped worker (not in ``live_owners``, or lease
        expired) become failed (never sent twice)."""
        async with self._uow() as uow:
            abandoned = await uow.outbox.fail_abandoned(self._clock.now(),
                                                        live_owners=live_owners)
            await uow.commit()
        if abandoned:
            log.warning("%d message(s) left mid-send by a stopped worker marked "
                        "DELIVERY_UNKNOWN (not resent)", abandoned)
        return abandoned

    def _retry_delay(self, attempts: int, hint: float | None) -> timedelta:
        delay: timedelta = self._retry_base * (2 ** max(0, attempts - 1))
        if hint is not None:
            delay = max(delay, timedelta(seconds=hint))
        return min(delay, self._retry_max)

    async def _attempt(self, message: OutboundMessage) -> tuple[OutboundMessage,
                                                               SendReceipt | DeliveryError]:
        """Send one message; the outcome is recorded with the others of the batch."""
        try:
            if message.template is not None:
                receipt = await self.channel.send_template(
                    message.to, message.template, message.template_language or "es",
                    message.template_params, content_sid=message.content_sid,
                    idempotency_key=f"eki-out-{message.id}")
            else:
                receipt = await self.channel.send_text(
                    message.to, message.body, reply_to=message.reply_to,
                    idempotency_key=f"eki-out-{message.id}",
                )
        except DeliveryError as exc:
            return message, exc
        except Exception as exc:  # a bug or an unexpected library error: retry, loudly
            log.exception("unexpected error sending outbox row %s", message.id)
            return message, DeliveryError(str(exc) or type(exc).__name__, code="UNEXPECTED",
                                          permanent=False, title=type(exc).__name__)
        return message, receipt

    async def _record(self, attempts: Sequence[tuple[OutboundMessage,
                                                    SendReceipt | DeliveryError]]
                      ) -> list[DeliveryOutcome]:
        """One transaction for the whole batch: ids of what was sent, retries, failures."""
        now = self._clock.now()
        outcomes: list[DeliveryOutcome] = []
        async with self._uow() as uow:
            await uow.outbox.mark_sent_many(
                [(message.id, result.provider_id) for message, result in attempts
                 if isinstance(result, SendReceipt) and message.id is not None], now)
            for message, result in attempts:
                assert message.id is not None
                if isinstance(result, SendReceipt):
                    outcomes.append(DeliveryOutcome(message.id, "sent",
                                                    provider_id=result.provider_id))
                    log.info("sent outbox row %s to %s (%d chars)", message.id,
                             mask_phone(message.to), len(message.body))
                    continue
                give_up = result.permanent or message.attempts >= self._max_attempts
                title = result.title or result.message
                if give_up:
                    await uow.outbox.mark_failed(message.id, error_code=result.code,
                                                 error_title=title, now=now)
                    if result.code == NO_WHATSAPP_CODE:
                        await uow.no_whatsapp.mark(message.to, now, result.code)
                else:
                    await uow.outbox.mark_retry(
                        message.id, error_code=result.code, error_title=title,
                        next_attempt_at=now + self._retry_delay(message.attempts,
                                                                result.retry_after))
                log.warning("outbox row %s to %s: %s %s (%s)", message.id,
                            mask_phone(message.to), "failed" if give_up else "will retry",
                            result.code, title)
                outcomes.append(DeliveryOutcome(message.id, "failed" if give_up else "retry",
                                                error_code=result.code))
            await uow.commit()
        sent = tuple(o.message_id for o in outcomes if o.status == "sent")
        failed = tuple(o.message_id for o in outcomes if o.status == "failed")
        if sent or failed:
            await self._bus.publish(MessagesDispatched(sent=sent, failed=failed))
        for (message, _), outcome in zip(attempts, outcomes, strict=True):
            self._telemetry.outbound_result(
                outcome.status, outcome.error_code,
                (now - message.created_at).total_seconds() if outcome.status == "sent" else None)
        return outcomes

    async def _mark_reads(self, provider_ids: Sequence[str]) -> None:
        await asyncio.gather(*(self._mark_read(provider_id) for provider_id in provider_ids))

    async def _mark_read(self, provider_id: str) -> None:
        try:
            await self.channel.mark_read(provider_id)
        except Exception:  # best effort: blue ticks are not worth a failure
            log.debug("mark_read failed for %s", provider_id, exc_info=True)


#: The failure recorded for a queued free-text staff message whose window closed.
WINDOW_CLOSED_TITLE = "ventana de 24 horas cerrada"


async def _closed_windows(windows: ServiceWindows, due: Sequence[OutboundMessage],
                          now: datetime) -> set[int | None]:
    """Ids of the free-text staff messages of ``due`` whose 24-hour window closed since
    they were queued (the bot's replies answer an inbound message: never checked, no
    query)."""
    texts = [m for m in due if m.author is not None and m.template is None]
    if not texts:
        return set()
    last = await windows.last_inbound_at([m.to for m in texts])
    return {m.id for m in texts if not window_open(last.get(m.to), now)}


async def _window_closed(message: OutboundMessage) -> tuple[OutboundMessage, DeliveryError]:
    return message, DeliveryError(
        "Han pasado más de 24 horas desde el último mensaje del estudiante: el mensaje no se "
        "envió (solo se puede escribir con una plantilla aprobada).",
        code="WINDOW_CLOSED", permanent=True, title=WINDOW_CLOSED_TITLE)
