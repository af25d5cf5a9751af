"""The admin dashboard: the figures the seed system asked to watch, in one read.

Response time, messages per hour, response rate, active vs inactive students, phone
errors, tokens per day, model error rate, function-calling usage and cost per student,
plus the queues. Everything comes from ``uow.operations`` in one unit of work.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs

from eki_domain.model.operations import (
    HourTraffic,
    InboundCounts,
    OutboundCounts,
    StudentCounts,
    UsageDay,
    UsageTotals,
)
from eki_domain.ports.clock import Clock
from eki_domain.ports.repositories import UnitOfWorkFactory

#: Meta error codes that mean "this phone cannot receive WhatsApp messages from us".
UNREACHABLE_PHONE_CODES = frozenset({
    "131026",  # message undeliverable (not on WhatsApp, old app, terms not accepted)
    "131030",  # recipient not in the allowed list (test numbers)
    "131049",  # not delivered to keep the ecosystem healthy (marketing limits)
    "131050",  # the user stopped marketing messages
    "131045",  # phone number not registered properly
    "1013",  # user is not valid
})


def _ratio(part: int, whole: int) -> float | None:
    return None if whole == 0 else part / whole


@attrs.frozen
class Dashboard:
    now: datetime
    hours: tuple[HourTraffic, ...]  # every hour of the window, oldest first (zeros included)
    days: tuple[UsageDay, ...]  # every day of the usage window, oldest first
    inbound: InboundCounts  # last 24 hours
    outbound: OutboundCounts  # last 24 hours
    students: StudentCounts
    usage: UsageTotals  # last 24 hours
    usage_month: UsageTotals  # last 30 days (cost per student)
    inbox_depth: tuple[int, float]  # (waiting, age in seconds of the oldest)
    outbox_depth: tuple[int, float]
    open_handoffs: int

    @property
    def messages_last_hour(self) -> int:
        return self.hours[-1].inbound if self.hours else 0

    @property
    def messages_per_hour(self) -> float:
        """Average inbound messages per hour over the window."""
        return sum(h.inbound for h in self.hours) / len(self.hours) if self.hours else 0.0

    @property
    def avg_reply_seconds(self) -> float | None:
        replied = [(h.replies, h.avg_reply_seconds) for h in self.hours
                   if h.replies and h.avg_reply_seconds is not None]
        total = sum(n for n, _ in replied)
        return None if total == 0 else sum(n * s for n, s in replied if s is not None) / total

    @property
    def max_reply_seconds(self) -> float | None:
        values = [h.max_reply_seconds for h in self.hours if h.max_reply_seconds is not None]
        return max(values) if values else None

    @property
    def response_rate(self) -> float | None:
        """Inbound messages the bot handled, of those received (last 24 h)."""
        return _ratio(self.inbound.done, self.inbound.received)

    @property
    def delivery_rate(self) -> float | None:
        """Outbound messages delivered or read, of those that left (last 24 h)."""
        delivered = self.outbound.status("delivered") + self.outbound.status("read")
        left = delivered + self.outbound.status("sent") + self.outbound.status("failed")
        return _ratio(delivered, left)

    @property
    def phone_errors(self) -> int:
        """Deliveries that failed because of the phone (last 24 h)."""
        return sum(f.count for f in self.outbound.failures if f.code in UNREACHABLE_PHONE_CODES)

    @property
    def model_error_rate(self) -> float | None:
        return _ratio(self.usage.errors, self.usage.calls)

    @property
    def tool_rate(self) -> float | None:
        """Share of answers (last 24 h) the assistant built with its tools."""
        return _ratio(self.outbound.with_tools, self.outbound.total)

    @property
    def cost_per_student(self) -> float | None:
        """Model spend of the last 30 days per student it was spent on."""
        return None if not self.usage_month.students else (
            self.usage_month.cost_usd / self.usage_month.students)

    @property
    def tokens_today(self) -> int:
        today = self.now.astimezone(UTC).date()
        return sum(d.tokens for d in self.days if d.day == today)


class DashboardService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def overview(self, *, hours: int = 24, days: int = 7) -> Dashboard:
        now = self._clock.now().astimezone(UTC)
        end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        start = end - timedelta(hours=hours)
        first_day = now.date() - timedelta(days=days - 1)
        day_start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
        async with self._uow() as uow:
            stats = uow.operations
            traffic = {h.start: h for h in await stats.traffic_by_hour(start, end)}
            usage_days = {d.day: d for d in await stats.usage_by_day(day_start)}
            day_ago = now - timedelta(hours=24)
            inbound = await stats.inbound_counts(day_ago)
            outbound = await stats.outbound_counts(day_ago)
            students = await stats.student_counts()
            usage = await stats.usage_totals(day_ago)
            usage_month = await stats.usage_totals(now - timedelta(days=30))
            inbox_depth = await uow.inbox.depth(now)
            outbox_depth = await uow.outbox.depth(now)
            handoffs = len(await uow.handoffs.open_handoffs())
        every_hour = tuple(
            traffic.get(start + timedelta(hours=n), HourTraffic(start=start + timedelta(hours=n)))
            for n in range(hours))
        every_day: tuple[UsageDay, ...] = tuple(
            usage_days.get(day, UsageDay(day=day))
            for day in (first_day + timedelta(days=n) for n in range(days)))
        return Dashboard(now=now, hours=every_hour, days=every_day, inbound=inbound,
                         outbound=outbound, students=students, usage=usage,
                         usage_month=usage_month, inbox_depth=inbox_depth,
                         outbox_depth=outbox_depth, open_handoffs=handoffs)

