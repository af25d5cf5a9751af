"""The outbox over SQL: replies waiting to be sent, claimed under a lease, and the delivery
reports that move them forward (never back)."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.inbox import abandoned_claims
from eki_adapters.sql.queries import as_datetime, channel_filter, insert_of
from eki_adapters.sql.tables import UTCDateTime, message_statuses, outbound_messages
from eki_domain.model.messages import DeliveryStatus, OutboundMessage, StatusReport


def _outbound_from_row(row: Any) -> OutboundMessage:
    return OutboundMessage(
        id=int(row.id), to=row.to_wa_id, body=row.body, created_at=row.created_at,
        channel=row.channel,
        student_id=row.student_id, inbound_id=row.inbound_id, reply_to=row.reply_to,
        mark_read=row.mark_read, intent=row.intent,
        tools=tuple(t for t in (row.tools or "").split(",") if t),
        status=DeliveryStatus(row.status), provider_id=row.provider_id,
        error_code=row.error_code, error_title=row.error_title, attempts=row.attempts,
        author=row.author, template=row.template_name, template_language=row.template_language,
        template_params=tuple(json.loads(row.template_params)) if row.template_params else (),
        content_sid=row.content_sid,
    )


_OUTBOX_INSERT = insert_of(outbound_messages, (
    "student_id", "inbound_id", "channel", "to_wa_id", "body", "reply_to", "mark_read",
    "intent", "tools", "status", "attempts", "next_attempt_at", "created_at", "updated_at",
    "author", "template_name", "template_language", "template_params", "content_sid",
)).returning(outbound_messages.c.id)
_OUTBOX_SENT = (
    outbound_messages.update()
    .where(outbound_messages.c.id == sa.bindparam("mid"),
           outbound_messages.c.status == DeliveryStatus.SENDING.value)
    .values(status=DeliveryStatus.SENT.value, provider_id=sa.bindparam("pid"),
            lease_until=None, updated_at=sa.bindparam("now", type_=UTCDateTime()),
            error_code=None, error_title=None)
    # Did a status for this id race ahead of it (fast channels)? Asked in the same statement.
    .returning(sa.exists().where(message_statuses.c.provider_id == sa.bindparam("pid"),
                                 message_statuses.c.applied.is_(False)))
)
_EARLY_STATUSES = (
    sa.select(message_statuses)
    .where(message_statuses.c.provider_id == sa.bindparam("pid"),
           message_statuses.c.applied.is_(False))
    .order_by(message_statuses.c.id)
)

@functools.cache
def _outbox_claim(dialect: str, filtered: bool) -> Any:
    """Claim due messages, oldest first, one per recipient: a message waits while an
    earlier one to the same recipient is queued or being sent (parts stay in order)."""
    o = outbound_messages
    ahead = o.alias("ahead")
    now = sa.bindparam("now", type_=UTCDateTime())
    blocked = (
        sa.exists()
        .where(ahead.c.to_wa_id == o.c.to_wa_id, ahead.c.id < o.c.id)
        .where(ahead.c.status.in_([DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]))
    )
    pick = (
        sa.select(o.c.id)
        .where(o.c.status == DeliveryStatus.QUEUED.value, o.c.next_attempt_at <= now)
        .where(channel_filter(o, filtered))
        .where(~blocked)
        .order_by(o.c.id)
        .limit(sa.bindparam("limit"))
    )
    picked: Any = pick.scalar_subquery()
    if dialect == "postgresql":
        # Picked once, in a materialized CTE: as an ``IN (subquery)`` PostgreSQL may run
        # the locking subquery again per row and claim every due row, whatever ``limit``.
        cte = pick.with_for_update(skip_locked=True, of=o).cte("picked").prefix_with(
            "MATERIALIZED")
        picked = sa.select(cte.c.id)
    return (
        o.update()
        .where(o.c.id.in_(picked), o.c.status == DeliveryStatus.QUEUED.value)
        .values(status=DeliveryStatus.SENDING.value,
                lease_until=sa.bindparam("lease", type_=UTCDateTime()),
                claimed_by=sa.bindparam("owner", type_=o.c.claimed_by.type),
                attempts=o.c.attempts + 1, updated_at=now)
        .returning(*o.c)
    )


class SqlOutbox:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def enqueue(self, message: OutboundMessage) -> int:
        result = await self._conn.execute(_OUTBOX_INSERT, {
            "student_id": message.student_id, "inbound_id": message.inbound_id,
            "channel": message.channel, "to_wa_id": message.to, "body": message.body,
            "reply_to": message.reply_to, "mark_read": message.mark_read,
            "intent": message.intent, "tools": ",".join(message.tools) or None,
            "status": str(message.status), "attempts": message.attempts,
            "next_attempt_at": message.created_at, "created_at": message.created_at,
            "updated_at": message.created_at, "author": message.author,
            "template_name": message.template, "template_language": message.template_language,
            "template_params": (json.dumps(list(message.template_params), ensure_ascii=False)
                                if message.template else None),
            "content_sid": message.content_sid})
        message.id = int(result.scalar_one())
        return message.id

    async def claim_due(self, now: datetime, lease: timedelta, limit: int, *,
                        channels: Sequence[str] | None = None,
                        owner: str | None = None) -> list[OutboundMessage]:
        wanted = list(channels) if channels is not None else None
        rows = await self._conn.execute(
            _outbox_claim(self._dialect, wanted is not None),
            {"now": now, "lease": now + lease, "limit": limit, "channels": wanted,
             "owner": owner})
        return sorted((_outbound_from_row(r) for r in rows), key=lambda m: m.id or 0)

    async def mark_sent(self, message_id: int, provider_id: str, now: datetime) -> None:
        raced = await self._conn.scalar(_OUTBOX_SENT, {"mid": message_id, "pid": provider_id,
                                                       "now": now})
        if not raced:
            return
        # Statuses that raced ahead of the id (possible with fast channels) apply now.
        early = await self._conn.execute(_EARLY_STATUSES, {"pid": provider_id})
        for row in early.all():
            await self._advance(provider_id, DeliveryStatus(row.status), row.error_code,
                                row.error_title, now)
            await self._conn.execute(
                message_statuses.update().where(message_statuses.c.id == row.id)
                .values(applied=True)
            )

    async def mark_retry(self, message_id: int, *, error_code: str, error_title: str | None,
                         next_attempt_at: datetime) -> None:
        o = outbound_messages
        await self._conn.execute(
            o.update().where(o.c.id == message_id)
            .values(status=DeliveryStatus.QUEUED.value, next_attempt_at=next_attempt_at,
                    error_code=error_code, error_title=error_title, lease_until=None,
                    updated_at=next_attempt_at)
        )

    async def mark_failed(self, message_id: int, *, error_code: str, error_title: str | None,
                          now: datetime) -> None:
        o = outbound_messages
        await self._conn.execute(
            o.update().where(o.c.id == message_id)
            .values(status=DeliveryStatus.FAILED.value, error_code=error_code,
                    error_title=error_title, lease_until=None, updated_at=now)
        )

    async def _advance(self, provider_id: str, status: DeliveryStatus, error_code: str | None,
                       error_title: str | None, now: datetime) -> bool | None:
        """Move the message forward; None when no outbound message has this id (yet)."""
        o = outbound_messages
        row = (await self._conn.execute(
            sa.select(o.c.id, o.c.status).where(o.c.provider_id == provider_id)
        )).first()
        if row is None:
            return None
        if not DeliveryStatus(row.status).advances_to(status):
            return False
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if status is DeliveryStatus.FAILED:
            values.update(error_code=error_code, error_title=error_title)
        result = await self._conn.execute(
            o.update().where(o.c.id == row.id, o.c.status == row.status).values(**values)
        )
        return bool(result.rowcount)

    async def apply_status(self, report: StatusReport, received_at: datetime) -> bool:
        advanced = await self._advance(report.provider_id, report.status, report.error_code,
                                       report.error_title, received_at)
        await self._conn.execute(
            message_statuses.insert().values(
                channel=report.channel, provider_id=report.provider_id,
                status=report.status.value, at=report.at, recipient=report.recipient,
                error_code=report.error_code, error_title=report.error_title, raw=report.raw,
                received_at=received_at, applied=advanced is not None,
            )
        )
        return bool(advanced)

    async def fail_abandoned(self, now: datetime, *,
                             live_owners: Collection[str] | None = None) -> int:
        o = outbound_messages
        result = await self._conn.execute(
            o.update()
            .where(abandoned_claims(o, o.c.status == DeliveryStatus.SENDING.value, now,
                                    live_owners, lease_bounds_all=True),
                   o.c.provider_id.is_(None))
            .values(status=DeliveryStatus.FAILED.value, error_code="DELIVERY_UNKNOWN",
                    error_title="the worker stopped while sending; not resent to avoid "
                    "a duplicate", updated_at=now, lease_until=None)
        )
        return int(result.rowcount or 0)

    async def depth(self, now: datetime) -> tuple[int, float]:
        o = outbound_messages
        count, oldest = (await self._conn.execute(
            sa.select(sa.func.count(), sa.func.min(o.c.created_at))
            .where(o.c.status.in_([DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]))
        )).one()
        if not count or oldest is None:
            return 0, 0.0
        return int(count), max(0.0, (now - as_datetime(oldest)).total_seconds())

    async def get(self, message_id: int) -> OutboundMessage | None:
        row = (await self._conn.execute(
            sa.select(outbound_messages).where(outbound_messages.c.id == message_id)
        )).first()
        return None if row is None else _outbound_from_row(row)

    async def find_by_provider_ids(self, provider_ids: Sequence[str]
                                   ) -> dict[str, OutboundMessage]:
        wanted = list(dict.fromkeys(provider_ids))[:1000]
        if not wanted:
            return {}
        rows = (await self._conn.execute(
            sa.select(outbound_messages).where(outbound_messages.c.provider_id.in_(wanted))
        )).all()
        return {row.provider_id: _outbound_from_row(row) for row in rows}
