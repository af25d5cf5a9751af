"""Storing what a webhook delivered: the raw event, new messages and delivery reports,
all in one transaction (the webhook answers 200 only after it commits)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from eki_domain.model.events import Event, MessageReceived, StatusChanged
from eki_domain.model.messages import (
    DeliveryStatus,
    IncomingMessage,
    StatusReport,
    WebhookDelivery,
)
from eki_domain.model.pacing import NO_WHATSAPP_CODE
from eki_domain.ports.clock import Clock
from eki_domain.ports.limits import WindowCounter
from eki_domain.ports.loaders import DeliveryWriter
from eki_domain.ports.repositories import UnitOfWorkFactory
from eki_domain.services.loaders import UowDeliveryWriter
from eki_domain.services.messagebus import MessageBus
from eki_domain.services.windows import FixedWindowCounter

#: Meta sends a handful of messages per delivery; a signed one with thousands would hold one
#: transaction for seconds. The rest is not processed: a second event records how many.
MAX_MESSAGES_PER_DELIVERY = 100
MAX_STATUSES_PER_DELIVERY = 1000


@attrs.frozen
class IngestResult:
    event_id: int
    messages: int  # in the payload
    new_messages: int  # not seen before (redeliveries are ignored)
    statuses: int
    statuses_applied: int  # moved an outbound message forward


class IngestService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *,
                 rejected_per_minute: int = 60, bus: MessageBus | None = None,
                 counter: WindowCounter | None = None,
                 deliveries: DeliveryWriter | None = None) -> None:
        self._uow = uow
        #: Where a delivery of messages alone is stored (``bootstrap`` wires one that
        #: stores the deliveries of one instant together).
        self._deliveries = deliveries if deliveries is not None else UowDeliveryWriter(uow)
        self._bus = bus if bus is not None else MessageBus()
        self._clock = clock
        self._rejected_per_minute = rejected_per_minute
        self._rejected = counter or FixedWindowCounter(60.0)

    async def record_rejected(self, *, channel: str, reason: str) -> int | None:
        """Log a delivery refused for its signature, without its body (unverified bytes
        are never stored): the admin's webhook log shows when, the reason and the size.
        At most ``rejected_per_minute`` records a minute per process, so a flood of
        forged requests cannot fill the database; returns the id, or None when skipped."""
        now = self._clock.now()
        count, _left = await self._rejected.add("rejected", 1, now.timestamp())
        if count > self._rejected_per_minute:
            return None
        async with self._uow() as uow:
            event_id = await uow.webhook_log.record(
                channel=channel, body="", signature_ok=False, received_at=now,
                note=reason[:2000])
            await uow.commit()
        return event_id

    async def ingest(
        self,
        *,
        channel: str,
        body: str,
        messages: Sequence[IncomingMessage],
        statuses: Sequence[StatusReport],
        note: str | None = None,
    ) -> IngestResult:
        now = self._clock.now()
        extra_messages = max(0, len(messages) - MAX_MESSAGES_PER_DELIVERY)
        extra_statuses = max(0, len(statuses) - MAX_STATUSES_PER_DELIVERY)
        messages = messages[:MAX_MESSAGES_PER_DELIVERY]
        statuses = statuses[:MAX_STATUSES_PER_DELIVERY]
        moved: list[tuple[str, str, str | None]] = []
        if not statuses and not (extra_messages or extra_statuses):
            # The usual delivery: messages only, stored with the others of the instant.
            event_id, new = await self._deliveries.store(WebhookDelivery(
                channel=channel, body=body, received_at=now, messages=tuple(messages),
                note=note))
        else:
            event_id, new, moved = await self._store(channel, body, note, now, messages,
                                                     statuses, extra_messages, extra_statuses)
        events: list[Event] = []
        if new:
            events.append(MessageReceived(
                channel=channel, new_messages=new, event_id=event_id,
                senders=tuple(dict.fromkeys(m.wa_id for m in messages))))
        if statuses:
            events.append(StatusChanged(channel=channel, statuses=len(statuses),
                                        applied=len(moved), moved=tuple(moved)))
        await self._bus.publish(*events)
        return IngestResult(event_id=event_id, messages=len(messages), new_messages=new,
                            statuses=len(statuses), statuses_applied=len(moved))

    async def _store(self, channel: str, body: str, note: str | None, now: datetime,
                     messages: Sequence[IncomingMessage], statuses: Sequence[StatusReport],
                     extra_messages: int, extra_statuses: int
                     ) -> tuple[int, int, list[tuple[str, str, str | None]]]:
        """A delivery with delivery reports (or cut short), in one transaction: (event id,
        new messages, the (provider id, status, error code) of what moved forward)."""
        moved: list[tuple[str, str, str | None]] = []
        async with self._uow() as uow:
            event_id, new = await uow.inbox.add_event(
                channel=channel, body=body, received_at=now, note=note, messages=messages)
            for report in statuses:
                if await uow.outbox.apply_status(report, now):
                    moved.append((report.provider_id, report.status.value, report.error_code))
                if (report.status is DeliveryStatus.FAILED and report.recipient
                        and report.error_code == NO_WHATSAPP_CODE):
                    await uow.no_whatsapp.mark(report.recipient, now, report.error_code)
            if extra_messages or extra_statuses:
                await uow.webhook_log.record(
                    channel=channel, body="", signature_ok=True, received_at=now,
                    note=f"entrega {event_id} recortada: {extra_messages} mensajes y "
                         f"{extra_statuses} estados más allá del máximo por entrega "
                         f"({MAX_MESSAGES_PER_DELIVERY} mensajes, {MAX_STATUSES_PER_DELIVERY} "
                         "estados) no se procesaron")
            await uow.commit()
        return event_id, new, moved
