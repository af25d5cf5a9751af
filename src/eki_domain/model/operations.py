"""What the admin dashboard shows: traffic, replies, deliveries, model usage, and the raw
webhook log. Read-side values only; :mod:`eki_domain.services.dashboard` assembles them."""

from __future__ import annotations

from datetime import date, datetime

import attrs


@attrs.frozen
class HourTraffic:
    """One hour (UTC, ``start`` on the hour) of messages in and out."""

    start: datetime
    inbound: int = 0
    outbound: int = 0
    replies: int = 0  # outbound messages answering an inbound one (they have a latency)
    avg_reply_seconds: float | None = None  # receive → reply queued
    max_reply_seconds: float | None = None


@attrs.frozen
class InboundCounts:
    """Inbound messages received in a window, by what became of them."""

    received: int = 0
    done: int = 0  # handled by the bot (answered, or deliberately silent)
    failed: int = 0  # gave up after repeated errors
    pending: int = 0  # waiting or being answered
    unknown_senders: int = 0  # handled, but from a phone of no registered student


@attrs.frozen
class ErrorCount:
    code: str
    title: str | None
    count: int


@attrs.frozen
class OutboundCounts:
    """Outbound messages created in a window: by delivery status, the failures by error
    code, and how many answers used the assistant's tools (function calling)."""

    by_status: tuple[tuple[str, int], ...] = ()
    failures: tuple[ErrorCount, ...] = ()
    total: int = 0
    with_tools: int = 0

    def status(self, name: str) -> int:
        return dict(self.by_status).get(name, 0)


@attrs.frozen
class StudentCounts:
    active: int = 0
    inactive: int = 0
    number_changed: int = 0  # WhatsApp said the student moved to another number


@attrs.frozen
class UsageDay:
    """Model calls of one UTC day."""

    day: date
    calls: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@attrs.frozen
class UsageTotals:
    """Model calls in a window: errors by kind, tokens, cost and the students served."""

    calls: int = 0
    errors: int = 0
    errors_by_kind: tuple[tuple[str, int], ...] = ()
    tokens: int = 0
    cost_usd: float = 0.0
    students: int = 0  # distinct students the calls were made for
    calls_with_tools: int = 0


@attrs.frozen
class WebhookEvent:
    """One stored webhook delivery. Rejected deliveries (bad or missing signature) are
    kept without their body: ``body`` is empty and ``note`` says why."""

    id: int
    channel: str
    received_at: datetime
    signature_ok: bool
    body: str
    note: str | None = None
