"""Sending the outbox through the channel, exactly once per row.

A row is claimed (``sending``, leased) before the call and gets the channel's id
after it. Transient failures come back later with growing delays; permanent ones
(outside the 24 h window, undeliverable, bad token…) are recorded with their code.
A row whose worker died mid-call is not resent (``DELIVERY_UNKNOWN``): a second send
could reach the student twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta

import attrs

from eki_domain.errors import DeliveryError
from eki_domain.model.messages import OutboundMessage
from eki_domain.ports.channel import MessageChannel
from eki_domain.ports.clock import Clock
from eki_domain.ports.repositories import UnitOfWorkFactory
from eki_domain.services.conversation import mask_wa_id

log = logging.getLogger("eki.delivery")


@attrs.frozen
class DeliveryOutcome:
    message_id: int
    status: str  # "sent" | "retry" | "failed"
    provider_id: str | None = None
    error_code: str | None = None


class DeliveryService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        channel: MessageChannel,
        *,
        lease: timedelta = timedelta(seconds=90),
        max_attempts: int = 6,
        retry_base: timedelta = timedelta(seconds=15),
        retry_max: timedelta = timedelta(minutes=30),
        batch_size: int = 50,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.channel = channel
        self._lease = lease
        self._max_attempts = max_attempts
        self._retry_base = retry_base
        self._retry_max = retry_max
        self._batch_size = batch_size

    async def dispatch_due(self, *, channels: Sequence[str] | None = None
                           ) -> list[DeliveryOutcome]:
        """Send every message that is due now (one per recipient at a time)."""
        now = self._clock.now()
        async with self._uow() as uow:
            abandoned = await uow.outbox.fail_abandoned(now)
            due = await uow.outbox.claim_due(now, self._lease, self._batch_size,
                                             channels=channels)
            await uow.commit()
        if abandoned:
            log.warning("%d message(s) left mid-send by a stopped worker marked "
                        "DELIVERY_UNKNOWN (not resent)", abandoned)
        if not due:
            return []
        return list(await asyncio.gather(*(self._send(message) for message in due)))

    def _retry_delay(self, attempts: int, hint: float | None) -> timedelta:
        delay: timedelta = self._retry_base * (2 ** max(0, attempts - 1))
        if hint is not None:
            delay = max(delay, timedelta(seconds=hint))
        return min(delay, self._retry_max)

    async def _send(self, message: OutboundMessage) -> DeliveryOutcome:
        assert message.id is not None
        try:
            receipt = await self.channel.send_text(
                message.to, message.body, reply_to=message.reply_to,
                idempotency_key=f"eki-out-{message.id}",
            )
        except DeliveryError as exc:
            return await self._failed(message, exc.code, exc.title or exc.message,
                                      permanent=exc.permanent, hint=exc.retry_after)
        except Exception as exc:  # a bug or an unexpected library error: retry, loudly
            log.exception("unexpected error sending outbox row %s", message.id)
            return await self._failed(message, "UNEXPECTED", type(exc).__name__,
                                      permanent=False, hint=None)
        now = self._clock.now()
        async with self._uow() as uow:
            await uow.outbox.mark_sent(message.id, receipt.provider_id, now)
            await uow.commit()
        log.info("sent outbox row %s to %s (%d chars)", message.id, mask_wa_id(message.to),
                 len(message.body))
        if message.mark_read:
            try:
                await self.channel.mark_read(message.mark_read)
            except Exception:  # best effort: blue ticks are not worth a failure
                log.debug("mark_read failed for row %s", message.id, exc_info=True)
        return DeliveryOutcome(message.id, "sent", provider_id=receipt.provider_id)

    async def _failed(self, message: OutboundMessage, code: str, title: str | None, *,
                      permanent: bool, hint: float | None) -> DeliveryOutcome:
        assert message.id is not None
        now = self._clock.now()
        give_up = permanent or message.attempts >= self._max_attempts
        async with self._uow() as uow:
            if give_up:
                await uow.outbox.mark_failed(message.id, error_code=code, error_title=title,
                                             now=now)
            else:
                await uow.outbox.mark_retry(
                    message.id, error_code=code, error_title=title,
                    next_attempt_at=now + self._retry_delay(message.attempts, hint))
            await uow.commit()
        log.warning("outbox row %s to %s: %s %s (%s)", message.id, mask_wa_id(message.to),
                    "failed" if give_up else "will retry", code, title)
        return DeliveryOutcome(message.id, "failed" if give_up else "retry", error_code=code)
