"""In-memory dashboard queries and webhook log (the same answers as the SQL ones)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from eki_adapters.memory.messaging import MessagingState
from eki_adapters.memory.staging import Staged
from eki_domain.model.messages import DeliveryStatus, InboxState
from eki_domain.model.operations import (
    ErrorCount,
    HourTraffic,
    InboundCounts,
    OutboundCounts,
    StudentCounts,
    UsageDay,
    UsageTotals,
    WebhookEvent,
)
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.student import Student
from eki_domain.ports.llm import UsageRecord


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _event(row: dict[str, Any]) -> WebhookEvent:
    return WebhookEvent(id=row["id"], channel=row["channel"], received_at=row["received_at"],
                        signature_ok=row["signature_ok"], body=row["body"], note=row["note"])


class InMemoryOperationsStats:
    def __init__(self, messaging: Staged[MessagingState],
                 students: Callable[[], Iterable[Student]],
                 usage: list[UsageRecord]) -> None:
        self._s = messaging
        self._students = students
        self._usage = usage

    async def traffic_by_hour(self, since: datetime, until: datetime) -> list[HourTraffic]:
        state = self._s.state
        hours: dict[datetime, dict[str, Any]] = {}
        received = {row.id: row.received_at for row in state.inbox.values()}
        for row in state.inbox.values():
            if since <= row.received_at < until:
                bucket = hours.setdefault(_hour(row.received_at), {})
                bucket["inbound"] = bucket.get("inbound", 0) + 1
        latencies: dict[datetime, list[float]] = {}
        for out in state.outbox.values():
            m = out.message
            if not since <= m.created_at < until:
                continue
            bucket = hours.setdefault(_hour(m.created_at), {})
            bucket["outbound"] = bucket.get("outbound", 0) + 1
            if m.inbound_id in received:
                latencies.setdefault(_hour(m.created_at), []).append(
                    max(0.0, (m.created_at - received[m.inbound_id]).total_seconds()))
        for start, values in latencies.items():
            hours[start].update(replies=len(values), avg_reply_seconds=sum(values) / len(values),
                                max_reply_seconds=max(values))
        return [HourTraffic(start=start, **values) for start, values in sorted(hours.items())]

    async def inbound_counts(self, since: datetime) -> InboundCounts:
        rows = [r for r in self._s.state.inbox.values() if r.received_at >= since]
        done = [r for r in rows if r.state is InboxState.DONE]
        failed = sum(1 for r in rows if r.state is InboxState.FAILED)
        return InboundCounts(received=len(rows), done=len(done), failed=failed,
                             pending=len(rows) - len(done) - failed,
                             unknown_senders=sum(1 for r in done if r.student_id is None))

    async def outbound_counts(self, since: datetime) -> OutboundCounts:
        messages = [r.message for r in self._s.state.outbox.values()
                    if r.message.created_at >= since]
        statuses = Counter(str(m.status) for m in messages)
        failed = [m for m in messages if m.status is DeliveryStatus.FAILED]
        codes = Counter(m.error_code or "?" for m in failed)
        titles: dict[str, str | None] = {}
        for m in failed:
            code = m.error_code or "?"
            if m.error_title is not None and (titles.get(code) or "") < m.error_title:
                titles[code] = m.error_title
        return OutboundCounts(
            by_status=tuple(sorted(statuses.items())),
            failures=tuple(ErrorCount(code=code, title=titles.get(code), count=n)
                           for code, n in sorted(codes.items(), key=lambda t: (-t[1], t[0]))),
            total=len(messages), with_tools=sum(1 for m in messages if m.tools))

    async def student_counts(self) -> StudentCounts:
        everyone = list(self._students())
        active = sum(1 for s in everyone if s.active)
        return StudentCounts(active=active, inactive=len(everyone) - active,
                             number_changed=sum(1 for s in everyone
                                                if s.number_changed_at is not None))

    async def usage_by_day(self, since: datetime) -> list[UsageDay]:
        days: dict[Any, list[UsageRecord]] = {}
        for record in self._usage:
            if record.at >= since:
                days.setdefault(record.at.astimezone(UTC).date(), []).append(record)
        return [UsageDay(day=day, calls=len(records),
                         errors=sum(1 for r in records if r.outcome != "ok"),
                         prompt_tokens=sum(r.prompt_tokens for r in records),
                         completion_tokens=sum(r.completion_tokens for r in records),
                         cost_usd=sum(r.cost_usd for r in records))
                for day, records in sorted(days.items())]

    async def usage_totals(self, since: datetime) -> UsageTotals:
        records = [r for r in self._usage if r.at >= since]
        kinds = Counter(r.outcome for r in records if r.outcome != "ok")
        return UsageTotals(
            calls=len(records), errors=sum(kinds.values()),
            errors_by_kind=tuple(sorted(kinds.items(), key=lambda t: (-t[1], t[0]))),
            tokens=sum(r.prompt_tokens + r.completion_tokens for r in records),
            cost_usd=sum(r.cost_usd for r in records),
            students=len({r.student_id for r in records if r.student_id is not None}),
            calls_with_tools=sum(1 for r in records if r.tools))

    async def webhook_events(
        self,
        *,
        signature_ok: bool | None = None,
        channel: str | None = None,
        page: PageRequest = PageRequest(),  # noqa: B008
    ) -> Page[WebhookEvent]:
        rows = [r for r in self._s.state.webhooks
                if (signature_ok is None or r["signature_ok"] == signature_ok)
                and (channel is None or r["channel"] == channel)]
        rows.sort(key=lambda r: (r["received_at"], r["id"]), reverse=True)
        window = rows[page.offset: page.offset + page.limit]
        return Page(items=tuple(_event(r) for r in window), total=len(rows),
                    limit=page.limit, offset=page.offset)

    async def webhook_event(self, event_id: int) -> WebhookEvent | None:
        for row in self._s.state.webhooks:
            if row["id"] == event_id:
                return _event(row)
        return None
