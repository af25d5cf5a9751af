"""Storing what a webhook delivered: the raw event, new messages and delivery reports,
all in one transaction (the webhook answers 200 only after it commits)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from eki_domain.model.messages import IncomingMessage, StatusReport
from eki_domain.ports.clock import Clock
from eki_domain.ports.repositories import UnitOfWorkFactory


@attrs.frozen
class IngestResult:
    event_id: int
    messages: int  # in the payload
    new_messages: int  # not seen before (redeliveries are ignored)
    statuses: int
    statuses_applied: int  # moved an outbound message forward


class IngestService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

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
        async with self._uow() as uow:
            event_id = await uow.conversations.record_webhook(
                channel=channel, body=body, signature_ok=True, received_at=now, note=note)
            new = await uow.inbox.add(messages, now) if messages else 0
            applied = 0
            for report in statuses:
                applied += await uow.outbox.apply_status(report, now)
            await uow.commit()
        return IngestResult(event_id=event_id, messages=len(messages), new_messages=new,
                            statuses=len(statuses), statuses_applied=applied)
