"""The outbox over SQL: replies waiting to be sent, claimed under a lease, and the delivery
reports that move them forward (never back)."""

from __future__ import annotations

import functools
import json
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.queries import abandoned_claims, as_datetime, channel_filter, insert_of
from eki_adapters.sql.tables import (
    BULK_DUE,
    PRIORITY_DUE,
    UTCDateTime,
    message_statuses,
    no_whatsapp,
    outbound_messages,
)
from eki_domain.model.messages import (
    BULK_PURPOSES,
    PRIORITY_PURPOSES,
    DeliveryStatus,
    OutboundMessage,
    Purpose,
    StatusReport,
)
from eki_domain.model.pacing import DEFER_AT_LEAST, BulkClaim, fit_daily_limit


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
        content_sid=row.content_sid, purpose=Purpose(row.purpose),
        broadcast_id=row.broadcast_id,
    )


OUTBOX_COLUMNS = (
    "student_id", "inbound_id", "channel", "to_wa_id", "body", "reply_to", "mark_read",
    "intent", "tools", "status", "attempts", "next_attempt_at", "created_at", "updated_at",
    "author", "template_name", "template_language", "template_params", "content_sid",
    "purpose", "broadcast_id",
)
_OUTBOX_INSERT = insert_of(outbound_messages, OUTBOX_COLUMNS).returning(outbound_messages.c.id)
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
#: ``_OUTBOX_SENT`` for a batch: the provider ids that a status raced ahead of (the same
#: columns and the same status guard: change the two together).
_PG_SENT_MANY = sa.text(
    "UPDATE outbound_messages AS o SET status = :sent, provider_id = u.pid, "
    "lease_until = NULL, updated_at = :now, error_code = NULL, error_title = NULL "
    "FROM unnest(CAST(:ids AS bigint[]), CAST(:pids AS text[])) AS u(id, pid) "
    "WHERE o.id = u.id AND o.status = :sending "
    "RETURNING o.provider_id, EXISTS (SELECT 1 FROM message_statuses AS s "
    "WHERE s.provider_id = u.pid AND s.applied = false) AS raced"
).bindparams(sa.bindparam("now", type_=UTCDateTime()),
             sent=DeliveryStatus.SENT.value, sending=DeliveryStatus.SENDING.value)
_EARLY_STATUSES = (
    sa.select(message_statuses)
    .where(message_statuses.c.provider_id == sa.bindparam("pid"),
           message_statuses.c.applied.is_(False))
    .order_by(message_statuses.c.id)
)

def _purposes(purposes: Sequence[Purpose]) -> list[Any]:
    """Literals, not bind parameters: the planner matches them to the partial indexes."""
    return [sa.literal_column(f"'{p.value}'") for p in purposes]


@functools.cache
def _outbox_claim(dialect: str, filtered: bool, lane: str | None = None) -> Any:
    """Claim due messages, oldest first, one per recipient: a message waits while an
    earlier one to the same recipient is queued or being sent (parts stay in order).
    ``lane`` "priority": replies and staff messages only, held back by an earlier
    broadcast or alert to the same person only while that one is being sent."""
    o = outbound_messages
    ahead = o.alias("ahead")
    now = sa.bindparam("now", type_=UTCDateTime())
    blocked = (
        sa.exists()
        .where(ahead.c.to_wa_id == o.c.to_wa_id, ahead.c.id < o.c.id)
        .where(ahead.c.status.in_([DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]))
    )
    pick = sa.select(o.c.id)
    if lane == "priority":
        blocked = blocked.where(sa.or_(ahead.c.purpose.in_(_purposes(PRIORITY_PURPOSES)),
                                       ahead.c.status == DeliveryStatus.SENDING.value))
        pick = pick.where(sa.text(PRIORITY_DUE))
    elif lane == "bulk":
        # Behind any message to the same person being sent or queued before it, and behind
        # a reply or staff message queued after it too (conversations go first).
        blocked = sa.exists().where(
            ahead.c.to_wa_id == o.c.to_wa_id, ahead.c.id != o.c.id,
            sa.or_(ahead.c.status == DeliveryStatus.SENDING.value,
                   sa.and_(ahead.c.status == DeliveryStatus.QUEUED.value,
                           sa.or_(ahead.c.id < o.c.id,
                                  ahead.c.purpose.in_(_purposes(PRIORITY_PURPOSES))))))
        pick = pick.where(sa.text(BULK_DUE))
    pick = (
        pick
        .where(o.c.status == DeliveryStatus.QUEUED.value, o.c.next_attempt_at <= now)
        .where(channel_filter(o, filtered))
        .where(~blocked)
        .order_by(*((o.c.next_attempt_at, o.c.id) if lane == "bulk" else (o.c.id,)))
        .limit(sa.bindparam("limit"))
    )
    if lane == "bulk":  # the candidates; claim_bulk decides which fit the daily limit
        pick = pick.add_columns(o.c.to_wa_id)
        return (pick.with_for_update(skip_locked=True, of=o) if dialect == "postgresql"
                else pick)
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


#: Serialises the claims of business-initiated rows across processes (PostgreSQL), so the
#: daily-limit count each one reads stays true until it commits.
BULK_LOCK_KEY = 0x0E1B_16

_BULK_CLAIM = (
    outbound_messages.update()
    .where(outbound_messages.c.id.in_(sa.bindparam("ids", expanding=True)),
           outbound_messages.c.status == DeliveryStatus.QUEUED.value)
    .values(status=DeliveryStatus.SENDING.value,
            lease_until=sa.bindparam("lease", type_=UTCDateTime()),
            claimed_by=sa.bindparam("owner", type_=outbound_messages.c.claimed_by.type),
            attempts=outbound_messages.c.attempts + 1,
            updated_at=sa.bindparam("now", type_=UTCDateTime()),
            initiated_at=sa.func.coalesce(outbound_messages.c.initiated_at,
                                          sa.bindparam("now", type_=UTCDateTime())))
    .returning(*outbound_messages.c)
)


def _initiated_since() -> sa.ColumnElement[bool]:
    o = outbound_messages
    return sa.and_(o.c.initiated_at > sa.bindparam("since", type_=UTCDateTime()),
                   o.c.purpose.in_(_purposes(BULK_PURPOSES)))


_BULK_COLUMNS = (
    "student_id", "channel", "to_wa_id", "body", "status", "attempts", "next_attempt_at",
    "created_at", "updated_at", "author", "template_name", "template_language",
    "template_params", "content_sid", "purpose", "broadcast_id",
)
#: What differs from one recipient to the next (arrays); the rest is the same for every
#: row of one statement (scalars).
_PER_ROW = ("student_id", "to_wa_id", "template_params")
_SHARED = tuple(c for c in _BULK_COLUMNS if c not in _PER_ROW)
#: Fixed column names only; every value is bound.
_PG_BULK_INSERT = sa.text(
    "INSERT INTO outbound_messages (" + ", ".join(_PER_ROW + _SHARED) + ") "  # noqa: S608
    "SELECT u.student_id, u.to_wa_id, u.template_params, "
    + ", ".join(f":{c}" for c in _SHARED)
    + " FROM unnest(CAST(:student_ids AS bigint[]), CAST(:to_wa_ids AS text[]), "
    "CAST(:params AS text[])) AS u(student_id, to_wa_id, template_params) "
    "ON CONFLICT (broadcast_id, to_wa_id) DO NOTHING RETURNING id"
).bindparams(*(sa.bindparam(c, type_=outbound_messages.c[c].type) for c in _SHARED))
_SQLITE_BULK_INSERT = sqlite_insert(outbound_messages).values(
    {c: sa.bindparam(c, type_=outbound_messages.c[c].type) for c in _BULK_COLUMNS}
).on_conflict_do_nothing(index_elements=["broadcast_id", "to_wa_id"])


def outbox_row(message: OutboundMessage) -> dict[str, Any]:
    """The bound values of one ``outbound_messages`` row."""
    return {
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
        "content_sid": message.content_sid, "purpose": message.purpose.value,
        "broadcast_id": message.broadcast_id}


def _bulk_row(m: OutboundMessage) -> dict[str, Any]:
    return {
        "student_id": m.student_id, "channel": m.channel, "to_wa_id": m.to, "body": m.body,
        "status": DeliveryStatus.QUEUED.value, "attempts": 0,
        "next_attempt_at": m.created_at, "created_at": m.created_at,
        "updated_at": m.created_at, "author": m.author, "template_name": m.template,
        "template_language": m.template_language,
        "template_params": (json.dumps(list(m.template_params), ensure_ascii=False)
                            if m.template else None),
        "content_sid": m.content_sid, "purpose": m.purpose.value,
        "broadcast_id": m.broadcast_id,
    }


class SqlOutbox:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def enqueue(self, message: OutboundMessage) -> int:
        result = await self._conn.execute(_OUTBOX_INSERT, outbox_row(message))
        message.id = int(result.scalar_one())
        return message.id

    async def claim_due(self, now: datetime, lease: timedelta, limit: int, *,
                        channels: Sequence[str] | None = None,
                        owner: str | None = None,
                        priority_only: bool = False) -> list[OutboundMessage]:
        wanted = list(channels) if channels is not None else None
        rows = await self._conn.execute(
            _outbox_claim(self._dialect, wanted is not None,
                          "priority" if priority_only else None),
            {"now": now, "lease": now + lease, "limit": limit, "channels": wanted,
             "owner": owner})
        return sorted((_outbound_from_row(r) for r in rows), key=lambda m: m.id or 0)

    async def claim_bulk(self, now: datetime, lease: timedelta, limit: int, *,
                         daily_limit: int, window: timedelta,
                         channels: Sequence[str] | None = None,
                         owner: str | None = None) -> BulkClaim:
        if limit <= 0:
            return BulkClaim()
        if self._dialect == "postgresql":
            await self._conn.execute(sa.select(sa.func.pg_advisory_xact_lock(BULK_LOCK_KEY)))
        wanted = list(channels) if channels is not None else None
        candidates = (await self._conn.execute(
            _outbox_claim(self._dialect, wanted is not None, "bulk"),
            {"now": now, "limit": limit, "channels": wanted})).all()
        if not candidates:
            return BulkClaim()
        since = now - window
        used, in_window = await self.daily_usage(since, [c.to_wa_id for c in candidates])
        fit, deferred = fit_daily_limit([c.to_wa_id for c in candidates], in_window,
                                        daily_limit - used)
        messages: list[OutboundMessage] = []
        if fit:
            rows = await self._conn.execute(_BULK_CLAIM, {
                "ids": [candidates[i].id for i in fit], "lease": now + lease,
                "owner": owner, "now": now})
            messages = sorted((_outbound_from_row(r) for r in rows),
                              key=lambda m: m.id or 0)
        if not deferred:
            return BulkClaim(messages=messages)
        until = await self._defer_outside_window(now, since, window)
        return BulkClaim(messages=messages, deferred=deferred, deferred_until=until)

    async def _defer_outside_window(self, now: datetime, since: datetime,
                                    window: timedelta) -> datetime:
        """The daily limit is reached: every due business-initiated row of a recipient not
        messaged in the window waits until the oldest message of the window leaves it."""
        o = outbound_messages
        oldest = await self._conn.scalar(
            sa.select(sa.func.min(o.c.initiated_at)).where(_initiated_since()),
            {"since": since})
        until = now + DEFER_AT_LEAST
        if oldest is not None:
            until = max(until, as_datetime(oldest) + window)
        seen = o.alias("seen")
        await self._conn.execute(
            o.update()
            .where(sa.text(BULK_DUE), o.c.next_attempt_at <= now)
            .where(~sa.exists().where(seen.c.to_wa_id == o.c.to_wa_id,
                                      seen.c.initiated_at > since,
                                      seen.c.purpose.in_(_purposes(BULK_PURPOSES))))
            .values(next_attempt_at=until), {"since": since})
        return until

    async def hold_alerts(self, now: datetime, until: datetime) -> int:
        o = outbound_messages
        done = await self._conn.execute(
            o.update()
            .where(sa.text(BULK_DUE), o.c.purpose == Purpose.ALERT.value,
                   o.c.next_attempt_at <= now)
            .values(next_attempt_at=until))
        return int(done.rowcount or 0)

    async def daily_usage(self, since: datetime, among: Sequence[str]) -> tuple[int, set[str]]:
        o = outbound_messages
        used = await self._conn.scalar(
            sa.select(sa.func.count(sa.distinct(o.c.to_wa_id))).where(_initiated_since()),
            {"since": since})
        found: set[str] = set()
        wanted = set(among)
        if not used or not wanted:
            return int(used or 0), found
        query = sa.select(o.c.to_wa_id).distinct().where(_initiated_since())
        if len(wanted) <= 100:  # a claim's candidates
            query = query.where(o.c.to_wa_id.in_(sorted(wanted)))
        # Else (a preview): the window holds about the daily limit of recipients at most;
        # read them all and intersect here (no statement with thousands of parameters).
        rows = await self._conn.execute(query, {"since": since})
        found.update(r.to_wa_id for r in rows if r.to_wa_id in wanted)
        return int(used), found

    async def enqueue_many(self, messages: Sequence[OutboundMessage]) -> int:
        if not messages:
            return 0
        rows = [_bulk_row(m) for m in messages]
        if self._dialect == "postgresql":
            # One statement per group of rows sharing everything but the recipient (one
            # group for a broadcast): three arrays, no per-row parameters.
            groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
            for row in rows:
                groups.setdefault(tuple(row[c] for c in _SHARED), []).append(row)
            new = 0
            for group in groups.values():
                values = {c: group[0][c] for c in _SHARED}
                result = await self._conn.execute(_PG_BULK_INSERT, {
                    **values, "student_ids": [r["student_id"] for r in group],
                    "to_wa_ids": [r["to_wa_id"] for r in group],
                    "params": [r["template_params"] for r in group]})
                new += len(result.all())
            return new
        # SQLite: one executemany call; its rowcount sums the rows each execution inserted
        # (a conflicting recipient counts 0).
        result = await self._conn.execute(_SQLITE_BULK_INSERT, rows)
        return int(result.rowcount or 0)

    async def mark_sent(self, message_id: int, provider_id: str, now: datetime) -> None:
        raced = await self._conn.scalar(_OUTBOX_SENT, {"mid": message_id, "pid": provider_id,
                                                       "now": now})
        if raced:
            await self._apply_early(provider_id, now)

    async def mark_sent_many(self, sent: Sequence[tuple[int, str]], now: datetime) -> None:
        if self._dialect != "postgresql" or len(sent) < 2:
            for message_id, provider_id in sent:
                await self.mark_sent(message_id, provider_id, now)
            return
        # One statement for the batch (one round trip instead of one per row).
        rows = (await self._conn.execute(_PG_SENT_MANY, {
            "ids": [m for m, _ in sent], "pids": [p for _, p in sent], "now": now})).all()
        for row in rows:
            if row.raced:
                await self._apply_early(row.provider_id, now)

    async def _apply_early(self, provider_id: str, now: datetime) -> None:
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
            .where(o.c.status.in_([DeliveryStatus.QUEUED.value, DeliveryStatus.SENDING.value]),
                   # Broadcasts and alerts wait on purpose (pacing, the daily limit).
                   o.c.purpose.in_(_purposes(PRIORITY_PURPOSES)))
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

class SqlNoWhatsApp:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def mark(self, wa_id: str, at: datetime, code: str) -> None:
        insert = (pg_insert if self._dialect == "postgresql" else sqlite_insert)(no_whatsapp)
        await self._conn.execute(
            insert.values(wa_id=wa_id, marked_at=at, error_code=code)
            .on_conflict_do_nothing(index_elements=["wa_id"]))

    async def among(self, wa_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        wanted = list(dict.fromkeys(wa_ids))
        for start in range(0, len(wanted), 1000):
            rows = await self._conn.execute(
                sa.select(no_whatsapp.c.wa_id)
                .where(no_whatsapp.c.wa_id.in_(wanted[start:start + 1000])))
            found.update(r.wa_id for r in rows)
        return found
