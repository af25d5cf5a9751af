"""The read side of operations: aggregate queries for the admin dashboard and the
webhook log browser (``uow.operations``)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from eki_domain.model.operations import (
    HourTraffic,
    InboundCounts,
    OutboundCounts,
    StudentCounts,
    UsageDay,
    UsageTotals,
    WebhookEvent,
)
from eki_domain.model.pagination import Page, PageRequest


class OperationsStats(Protocol):
    async def traffic_by_hour(self, since: datetime, until: datetime) -> list[HourTraffic]:
        """Hours of ``[since, until)`` that had traffic, oldest first (empty hours absent).
        Inbound counted by ``received_at``, outbound by creation; reply latency is the
        time from receiving a message to queueing its answer."""
        ...

    async def inbound_counts(self, since: datetime) -> InboundCounts: ...

    async def outbound_counts(self, since: datetime) -> OutboundCounts: ...

    async def student_counts(self) -> StudentCounts: ...

    async def usage_by_day(self, since: datetime) -> list[UsageDay]:
        """UTC days since ``since`` that had model calls, oldest first."""
        ...

    async def usage_totals(self, since: datetime) -> UsageTotals: ...

    async def webhook_events(
        self,
        *,
        signature_ok: bool | None = None,
        channel: str | None = None,
        page: PageRequest = PageRequest(),  # noqa: B008 - frozen value object
    ) -> Page[WebhookEvent]:
        """Stored webhook deliveries, newest first."""
        ...

    async def webhook_event(self, event_id: int) -> WebhookEvent | None: ...
