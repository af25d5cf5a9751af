"""``SqlOperationsStats``: the dashboard's aggregate queries and the webhook log.

Hours and days are grouped in the database (``date_trunc`` on PostgreSQL, ``strftime``
on SQLite, where UTC datetimes are stored as naive text) so a day of traffic is a few
dozen rows, not one per message.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.tables import (
    inbound_messages,
    llm_usage,
    outbound_messages,
    students,
    webhook_events,
)
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


def _bucket(column: Any, dialect: str, unit: str) -> Any:
    """The start of the hour (``unit="hour"``) or day of a UTC datetime column."""
    if dialect == "postgresql":
        return sa.func.date_trunc(unit, sa.func.timezone("UTC", column))
    pattern = "%Y-%m-%d %H:00:00" if unit == "hour" else "%Y-%m-%d"
    return sa.func.strftime(pattern, column)


def _seconds_between(later: Any, earlier: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def _hour(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    moment: datetime = value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _day(value: Any) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return value.date()
    day: date = value
    return day


def _event_from_row(row: Any) -> WebhookEvent:
    return WebhookEvent(id=int(row.id), channel=row.channel, received_at=row.received_at,
                        signature_ok=bool(row.signature_ok), body=row.body, note=row.note)


class SqlOperationsStats:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def traffic_by_hour(self, since: datetime, until: datetime) -> list[HourTraffic]:
        i, o = inbound_messages, outbound_messages
        hours: dict[datetime, dict[str, Any]] = {}
        in_hour = _bucket(i.c.received_at, self._dialect, "hour").label("hour")
        for row in await self._conn.execute(
            sa.select(in_hour, sa.func.count().label("n"))
            .where(i.c.received_at >= since, i.c.received_at < until).group_by(in_hour)
        ):
            hours.setdefault(_hour(row.hour), {})["inbound"] = int(row.n)
        # Each reply's latency, its question looked up by primary key (a join would make
        # PostgreSQL hash the whole inbound table); OFFSET 0 keeps the lookup from being
        # repeated in every aggregate below.
        asked = (sa.select(i.c.received_at).where(i.c.id == o.c.inbound_id)
                 .scalar_subquery())
        replies = (
            sa.select(o.c.created_at.label("at"),
                      _seconds_between(o.c.created_at, asked, self._dialect).label("latency"))
            .where(o.c.created_at >= since, o.c.created_at < until).offset(0).subquery()
        )
        out_hour = _bucket(replies.c.at, self._dialect, "hour").label("hour")
        for row in await self._conn.execute(
            sa.select(out_hour, sa.func.count().label("n"),
                      sa.func.count(replies.c.latency).label("replies"),
                      sa.func.avg(replies.c.latency).label("avg"),
                      sa.func.max(replies.c.latency).label("max"))
            .group_by(out_hour)
        ):
            hours.setdefault(_hour(row.hour), {}).update(
                outbound=int(row.n), replies=int(row.replies),
                avg_reply_seconds=None if row.avg is None else max(0.0, float(row.avg)),
                max_reply_seconds=None if row.max is None else max(0.0, float(row.max)))
        return [HourTraffic(start=start, **values) for start, values in sorted(hours.items())]

    async def inbound_counts(self, since: datetime) -> InboundCounts:
        i = inbound_messages
        rows = await self._conn.execute(
            sa.select(i.c.state, sa.func.count().label("n"),
                      sa.func.count(sa.case((i.c.student_id.is_(None), 1))).label("unknown"))
            .where(i.c.received_at >= since).group_by(i.c.state))
        counts = {InboxState.DONE: 0, InboxState.FAILED: 0}
        received = pending = unknown = 0
        for row in rows:
            state = InboxState(row.state)
            received += int(row.n)
            if state in counts:
                counts[state] += int(row.n)
            else:
                pending += int(row.n)
            if state is InboxState.DONE:
                unknown += int(row.unknown)
        return InboundCounts(received=received, done=counts[InboxState.DONE],
                             failed=counts[InboxState.FAILED], pending=pending,
                             unknown_senders=unknown)

    async def outbound_counts(self, since: datetime) -> OutboundCounts:
        o = outbound_messages
        by_status = [
            (row.status, int(row.n)) for row in await self._conn.execute(
                sa.select(o.c.status, sa.func.count().label("n"))
                .where(o.c.created_at >= since).group_by(o.c.status).order_by(o.c.status))
        ]
        failures = [
            ErrorCount(code=row.error_code or "?", title=row.title, count=int(row.n))
            for row in await self._conn.execute(
                sa.select(o.c.error_code, sa.func.max(o.c.error_title).label("title"),
                          sa.func.count().label("n"))
                .where(o.c.created_at >= since, o.c.status == DeliveryStatus.FAILED.value)
                .group_by(o.c.error_code).order_by(sa.func.count().desc(), o.c.error_code))
        ]
        with_tools = await self._conn.scalar(
            sa.select(sa.func.count()).where(o.c.created_at >= since, o.c.tools.is_not(None),
                                             o.c.tools != ""))
        return OutboundCounts(by_status=tuple(by_status), failures=tuple(failures),
                              total=sum(n for _, n in by_status),
                              with_tools=int(with_tools or 0))

    async def student_counts(self) -> StudentCounts:
        s = students
        row = (await self._conn.execute(sa.select(
            sa.func.count(sa.case((s.c.active.is_(True), 1))),
            sa.func.count(sa.case((s.c.active.is_(False), 1))),
            sa.func.count(s.c.number_changed_at),
        ))).one()
        return StudentCounts(active=int(row[0]), inactive=int(row[1]),
                             number_changed=int(row[2]))

    async def usage_by_day(self, since: datetime) -> list[UsageDay]:
        u = llm_usage
        day = _bucket(u.c.at, self._dialect, "day").label("day")
        rows = await self._conn.execute(
            sa.select(day, sa.func.count().label("calls"),
                      sa.func.count(sa.case((u.c.outcome != "ok", 1))).label("errors"),
                      sa.func.coalesce(sa.func.sum(u.c.prompt_tokens), 0).label("prompt"),
                      sa.func.coalesce(sa.func.sum(u.c.completion_tokens), 0).label("out"),
                      sa.func.coalesce(sa.func.sum(u.c.cost_usd), 0.0).label("cost"))
            .where(u.c.at >= since).group_by(day).order_by(day))
        return [UsageDay(day=_day(r.day), calls=int(r.calls), errors=int(r.errors),
                         prompt_tokens=int(r.prompt), completion_tokens=int(r.out),
                         cost_usd=float(r.cost)) for r in rows]

    async def usage_totals(self, since: datetime) -> UsageTotals:
        u = llm_usage
        row = (await self._conn.execute(sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(u.c.prompt_tokens + u.c.completion_tokens), 0),
            sa.func.coalesce(sa.func.sum(u.c.cost_usd), 0.0),
            sa.func.count(sa.distinct(u.c.student_id)),
            sa.func.count(sa.case((sa.and_(u.c.tools.is_not(None), u.c.tools != ""), 1))),
        ).where(u.c.at >= since))).one()
        kinds = [(r.outcome, int(r.n)) for r in await self._conn.execute(
            sa.select(u.c.outcome, sa.func.count().label("n"))
            .where(u.c.at >= since, u.c.outcome != "ok")
            .group_by(u.c.outcome).order_by(sa.func.count().desc(), u.c.outcome))]
        return UsageTotals(calls=int(row[0]), errors=sum(n for _, n in kinds),
                           errors_by_kind=tuple(kinds), tokens=int(row[1]),
                           cost_usd=float(row[2]), students=int(row[3]),
                           calls_with_tools=int(row[4]))

    async def webhook_events(
        self,
        *,
        signature_ok: bool | None = None,
        channel: str | None = None,
        page: PageRequest = PageRequest(),  # noqa: B008
    ) -> Page[WebhookEvent]:
        w = webhook_events
        filters: list[sa.ColumnElement[bool]] = []
        if signature_ok is not None:
            filters.append(w.c.signature_ok.is_(signature_ok))
        if channel is not None:
            filters.append(w.c.channel == channel)
        rows = await self._conn.execute(
            sa.select(w).where(*filters).order_by(w.c.received_at.desc(), w.c.id.desc())
            .limit(page.limit).offset(page.offset))
        items = tuple(_event_from_row(r) for r in rows)
        total = await self._conn.scalar(sa.select(sa.func.count()).select_from(w)
                                        .where(*filters))
        return Page(items=items, total=int(total or 0), limit=page.limit, offset=page.offset)

    async def webhook_event(self, event_id: int) -> WebhookEvent | None:
        row = (await self._conn.execute(
            sa.select(webhook_events).where(webhook_events.c.id == event_id))).first()
        return None if row is None else _event_from_row(row)
