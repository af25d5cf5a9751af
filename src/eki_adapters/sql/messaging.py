"""Inbox, outbox and conversation state over SQL.

Claims are leases: a short transaction marks rows ``processing``/``sending`` with a
token and an expiry, the slow work (the assistant, the HTTP call) happens outside any
transaction, and completing checks the token. On PostgreSQL candidates are picked with
``FOR UPDATE SKIP LOCKED`` so concurrent workers never wait on each other.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.tables import (
    UTCDateTime,
    handoffs,
    inbound_messages,
    message_statuses,
    opt_outs,
    outbound_messages,
    webhook_events,
)
from eki_adapters.sql.wakeups import INBOX_CHANNEL
from eki_domain.model.messages import (
    ClaimedBatch,
    DeliveryStatus,
    HistoryEntry,
    InboxItem,
    InboxState,
    IncomingMessage,
    MessageType,
    OutboundMessage,
    StatusReport,
)
from eki_domain.model.pagination import Page, PageRequest

PENDING, PROCESSING, DONE, FAILED = (InboxState.PENDING.value, InboxState.PROCESSING.value,
                                     InboxState.DONE.value, InboxState.FAILED.value)


def _incoming_from_row(row: Any) -> IncomingMessage:
    return IncomingMessage(
        channel=row.channel, provider_id=row.provider_id, wa_id=row.wa_id,
        type=MessageType.parse(row.type), sent_at=row.sent_at, text=row.text,
        payload=row.payload, context_id=row.context_id, profile_name=row.profile_name,
        media_id=row.media_id, mime_type=row.mime_type, is_voice=bool(row.is_voice),
        reaction_to=row.reaction_to, reaction_emoji=row.reaction_emoji,
        system_type=row.system_type, new_wa_id=row.new_wa_id, raw=row.raw,
    )


def _outbound_from_row(row: Any) -> OutboundMessage:
    return OutboundMessage(
        id=int(row.id), to=row.to_wa_id, body=row.body, created_at=row.created_at,
        channel=row.channel,
        student_id=row.student_id, inbound_id=row.inbound_id, reply_to=row.reply_to,
        mark_read=row.mark_read, intent=row.intent,
        tools=tuple(t for t in (row.tools or "").split(",") if t),
        status=DeliveryStatus(row.status), provider_id=row.provider_id,
        error_code=row.error_code, error_title=row.error_title, attempts=row.attempts,
    )


_INBOX_COLUMNS = (
    "channel", "provider_id", "wa_id", "profile_name", "type", "text", "payload", "context_id",
    "media_id", "mime_type", "is_voice", "reaction_to", "reaction_emoji", "system_type",
    "new_wa_id", "raw", "sent_at", "received_at", "state", "available_at", "attempts",
)
def _insert_of(table: sa.Table, columns: Sequence[str]) -> Any:
    return table.insert().values(
        {name: sa.bindparam(name, type_=table.c[name].type) for name in columns})


_WEBHOOK_INSERT = _insert_of(
    webhook_events, ("channel", "body", "signature_ok", "received_at", "note")
).returning(webhook_events.c.id)
_OUTBOX_INSERT = _insert_of(outbound_messages, (
    "student_id", "inbound_id", "channel", "to_wa_id", "body", "reply_to", "mark_read",
    "intent", "tools", "status", "attempts", "next_attempt_at", "created_at", "updated_at",
)).returning(outbound_messages.c.id)
_INBOX_COMPLETE = (
    inbound_messages.update()
    .where(inbound_messages.c.claim_token == sa.bindparam("token"),
           inbound_messages.c.wa_id == sa.bindparam("sender"),
           inbound_messages.c.state == PROCESSING)
    .values(state=DONE, processed_at=sa.bindparam("now", type_=UTCDateTime()),
            student_id=sa.bindparam("sid"), intent=sa.bindparam("why"), lease_until=None)
)
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

_OPTED_OUT_AMONG = sa.select(opt_outs.c.phone).where(
    opt_outs.c.phone.in_(sa.bindparam("phones", expanding=True)))
_PAUSED_AMONG = sa.select(handoffs.c.student_id).where(
    handoffs.c.student_id.in_(sa.bindparam("ids", expanding=True)),
    handoffs.c.released_at.is_(None))


@functools.cache
def _inbox_insert(dialect: str) -> Any:
    """Insert-or-ignore one inbox row, built once (the webhook's hot path)."""
    statement = upsert_into(dialect, inbound_messages).values(
        {name: sa.bindparam(name, type_=inbound_messages.c[name].type)
         for name in _INBOX_COLUMNS})
    statement = statement.on_conflict_do_nothing(index_elements=["channel", "provider_id"])
    if dialect == "postgresql":
        # Wake workers in other processes when the message commits (LISTEN eki_inbox,
        # eki_adapters.sql.wakeups): in the insert itself, no round trip of its own.
        return statement.returning(inbound_messages.c.id,
                                   sa.func.pg_notify(INBOX_CHANNEL, ""))
    return statement.returning(inbound_messages.c.id)


def _inbox_row(m: IncomingMessage, received_at: datetime) -> dict[str, Any]:
    return {
        "channel": m.channel, "provider_id": m.provider_id, "wa_id": m.wa_id,
        "profile_name": m.profile_name[:200] if m.profile_name else None,
        "type": str(m.type), "text": m.text,
        "payload": m.payload[:256] if m.payload else None,
        "context_id": m.context_id, "media_id": m.media_id, "mime_type": m.mime_type,
        "is_voice": m.is_voice, "reaction_to": m.reaction_to,
        "reaction_emoji": m.reaction_emoji, "system_type": m.system_type,
        "new_wa_id": m.new_wa_id, "raw": m.raw, "sent_at": m.sent_at,
        "received_at": received_at, "state": PENDING, "available_at": received_at,
        "attempts": 0,
    }


def _pg_event_and_message() -> Any:
    event = (
        webhook_events.insert()
        .values(channel=sa.bindparam("ev_channel", type_=webhook_events.c.channel.type),
                body=sa.bindparam("ev_body", type_=webhook_events.c.body.type),
                signature_ok=True,
                received_at=sa.bindparam("received_at", type_=UTCDateTime()),
                note=sa.bindparam("ev_note", type_=webhook_events.c.note.type))
        .returning(webhook_events.c.id)
        .cte("event")
    )
    message = _inbox_insert("postgresql").cte("message")
    return sa.select(
        sa.select(event.c.id).scalar_subquery(),
        sa.select(sa.func.count()).select_from(message).scalar_subquery(),
    )


def _channel_filter(table: Any, filtered: bool) -> sa.ColumnElement[bool]:
    if not filtered:
        return sa.true()
    column: sa.ColumnElement[str] = table.c.channel
    return column.in_(sa.bindparam("channels", expanding=True))


def _sender_busy(alias_of: Any) -> sa.Exists:
    """The sender already has messages being answered: keep their order, wait."""
    busy = inbound_messages.alias("busy")
    return sa.exists().where(busy.c.wa_id == alias_of, busy.c.state == PROCESSING)


@functools.cache
def _inbox_pick(dialect: str, filtered: bool, skipping: bool) -> Any:
    m = inbound_messages
    pick = (
        sa.select(m.c.wa_id)
        .where(m.c.state == PENDING, m.c.available_at <= sa.bindparam("now", type_=UTCDateTime()))
        .where(_channel_filter(m, filtered))
        .where(~_sender_busy(m.c.wa_id))
        .order_by(m.c.sent_at, m.c.id)
        .limit(1)
    )
    if skipping:
        pick = pick.where(m.c.wa_id.not_in(sa.bindparam("skip", expanding=True)))
    if dialect == "postgresql":
        # Pick and take the sender's advisory lock in one round trip: the lock is
        # evaluated on the single picked row, and the claim that follows is a new
        # statement (a new snapshot) taken under that lock.
        picked = pick.with_for_update(skip_locked=True, of=m).subquery("picked")
        return sa.select(picked.c.wa_id, sa.func.pg_try_advisory_xact_lock(
            sa.func.hashtextextended(picked.c.wa_id, 7)))
    return sa.select(pick.subquery("picked").c.wa_id, sa.true())


@functools.cache
def _inbox_claim(dialect: str, filtered: bool) -> Any:
    m = inbound_messages
    return (
        m.update()
        .where(m.c.wa_id == sa.bindparam("sender"), m.c.state == PENDING,
               m.c.available_at <= sa.bindparam("now", type_=UTCDateTime()))
        .where(_channel_filter(m, filtered))
        .where(~_sender_busy(sa.bindparam("sender")))
        .values(state=PROCESSING, claim_token=sa.bindparam("token"),
                lease_until=sa.bindparam("lease", type_=UTCDateTime()))
        .returning(*m.c)
    )


@functools.cache
def _inbox_pick_many(filtered: bool) -> Any:
    """PostgreSQL: the oldest claimable rows, locked (several may share a sender)."""
    m = inbound_messages
    return (
        sa.select(m.c.wa_id)
        .where(m.c.state == PENDING, m.c.available_at <= sa.bindparam("now", type_=UTCDateTime()))
        .where(_channel_filter(m, filtered))
        .where(~_sender_busy(m.c.wa_id))
        .order_by(m.c.sent_at, m.c.id)
        .limit(sa.bindparam("rows"))
        .with_for_update(skip_locked=True, of=m)
    )


#: PostgreSQL: the senders whose advisory lock this transaction could take.
_PG_LOCK_SENDERS = sa.text(
    "SELECT w FROM unnest(CAST(:senders AS text[])) AS w "
    "WHERE pg_try_advisory_xact_lock(hashtextextended(w, 7))")


@functools.cache
def _inbox_claim_many(filtered: bool) -> Any:
    m = inbound_messages
    return (
        m.update()
        .where(m.c.wa_id.in_(sa.bindparam("senders", expanding=True)), m.c.state == PENDING,
               m.c.available_at <= sa.bindparam("now", type_=UTCDateTime()))
        .where(_channel_filter(m, filtered))
        .where(~_sender_busy(m.c.wa_id))
        .values(state=PROCESSING, claim_token=sa.bindparam("token"),
                lease_until=sa.bindparam("lease", type_=UTCDateTime()))
        .returning(*m.c)
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
        .where(_channel_filter(o, filtered))
        .where(~blocked)
        .order_by(o.c.id)
        .limit(sa.bindparam("limit"))
    )
    if dialect == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=o)
    return (
        o.update()
        .where(o.c.id.in_(pick.scalar_subquery()), o.c.status == DeliveryStatus.QUEUED.value)
        .values(status=DeliveryStatus.SENDING.value,
                lease_until=sa.bindparam("lease", type_=UTCDateTime()),
                attempts=o.c.attempts + 1, updated_at=now)
        .returning(*o.c)
    )


_PG_EVENT_AND_MESSAGE = _pg_event_and_message()
# A student's newest messages each way (the assistant's history, the admin, the API).
_HISTORY_IN = (
    sa.select(inbound_messages.c.received_at, inbound_messages.c.text,
              inbound_messages.c.type, inbound_messages.c.state,
              inbound_messages.c.provider_id, inbound_messages.c.intent)
    .where(inbound_messages.c.student_id == sa.bindparam("sid"))
    .order_by(inbound_messages.c.received_at.desc(), inbound_messages.c.id.desc())
    .limit(sa.bindparam("window"))
)
_HISTORY_OUT = (
    sa.select(outbound_messages.c.created_at, outbound_messages.c.body,
              outbound_messages.c.status, outbound_messages.c.provider_id,
              outbound_messages.c.error_code, outbound_messages.c.intent)
    .where(outbound_messages.c.student_id == sa.bindparam("sid"))
    .order_by(outbound_messages.c.created_at.desc(), outbound_messages.c.id.desc())
    .limit(sa.bindparam("window"))
)

_PG_HISTORY_IN_EACH = sa.text(
    "SELECT s.sid, h.received_at, h.text, h.type, h.state, h.provider_id, h.intent "
    "FROM unnest(CAST(:sids AS BIGINT[])) AS s(sid) CROSS JOIN LATERAL ("
    " SELECT received_at, text, type, state, provider_id, intent FROM inbound_messages"
    " WHERE student_id = s.sid ORDER BY received_at DESC, id DESC LIMIT :window) AS h"
).columns(sa.column("sid"), inbound_messages.c.received_at, inbound_messages.c.text,
          inbound_messages.c.type, inbound_messages.c.state, inbound_messages.c.provider_id,
          inbound_messages.c.intent)
_PG_HISTORY_OUT_EACH = sa.text(
    "SELECT s.sid, h.created_at, h.body, h.status, h.provider_id, h.error_code, h.intent "
    "FROM unnest(CAST(:sids AS BIGINT[])) AS s(sid) CROSS JOIN LATERAL ("
    " SELECT created_at, body, status, provider_id, error_code, intent FROM outbound_messages"
    " WHERE student_id = s.sid ORDER BY created_at DESC, id DESC LIMIT :window) AS h"
).columns(sa.column("sid"), outbound_messages.c.created_at, outbound_messages.c.body,
          outbound_messages.c.status, outbound_messages.c.provider_id,
          outbound_messages.c.error_code, outbound_messages.c.intent)


class SqlInbox:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def add(self, messages: Sequence[IncomingMessage], received_at: datetime) -> int:
        added = 0
        statement = _inbox_insert(self._dialect)
        for m in messages:
            result = await self._conn.execute(statement, _inbox_row(m, received_at))
            # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT here.
            added += len(result.all())
        return added

    async def add_event(self, *, channel: str, body: str, received_at: datetime,
                        note: str | None, messages: Sequence[IncomingMessage]) -> tuple[int, int]:
        if self._dialect != "postgresql" or len(messages) != 1:
            event_id = await SqlConversationStore(self._conn).record_webhook(
                channel=channel, body=body, signature_ok=True, received_at=received_at,
                note=note)
            return event_id, await self.add(messages, received_at) if messages else 0
        # The usual delivery (one message) on PostgreSQL: the event and the inbox row in one
        # statement (data-modifying CTEs), one round trip less on the webhook's hot path.
        row = (await self._conn.execute(_PG_EVENT_AND_MESSAGE, {
            "ev_channel": channel, "ev_body": body, "ev_note": note,
            **_inbox_row(messages[0], received_at)})).one()
        return int(row[0]), int(row[1])

    async def claim(self, now: datetime, lease: timedelta, *,
                    channels: Sequence[str] | None = None) -> ClaimedBatch | None:
        wanted = list(channels) if channels is not None else None
        skip: list[str] = []
        for _ in range(5):
            picked = (await self._conn.execute(
                _inbox_pick(self._dialect, wanted is not None, bool(skip)),
                {"now": now, "channels": wanted, "skip": skip})).first()
            if picked is None:
                return None
            wa_id, locked = picked
            if not locked:
                skip.append(wa_id)  # another worker is claiming this sender right now
                continue
            token = secrets.token_hex(16)
            lease_until = now + lease
            rows = list((await self._conn.execute(
                _inbox_claim(self._dialect, wanted is not None),
                {"sender": wa_id, "now": now, "channels": wanted, "token": token,
                 "lease": lease_until})).all())
            if not rows:
                skip.append(wa_id)  # taken by another worker between the two statements
                continue
            rows.sort(key=lambda r: (r.sent_at, r.id))
            items = tuple(InboxItem(id=int(r.id), message=_incoming_from_row(r),
                                    attempts=r.attempts) for r in rows)
            return ClaimedBatch(wa_id=wa_id, items=items, token=token, lease_until=lease_until)
        return None

    async def claim_many(self, now: datetime, lease: timedelta, limit: int, *,
                         channels: Sequence[str] | None = None) -> list[ClaimedBatch]:
        if self._dialect != "postgresql":
            # One writer at a time (SQLite): claiming sender by sender costs nothing extra.
            batches: list[ClaimedBatch] = []
            while len(batches) < limit:
                batch = await self.claim(now, lease, channels=channels)
                if batch is None:
                    break
                batches.append(batch)
            return batches
        wanted = list(channels) if channels is not None else None
        filtered = wanted is not None
        for _ in range(3):
            picked = (await self._conn.execute(
                _inbox_pick_many(filtered),
                {"now": now, "channels": wanted, "rows": 2 * limit})).scalars().all()
            if not picked:
                return []
            senders = list(dict.fromkeys(picked))[:limit]  # oldest first, once each
            locked = set((await self._conn.execute(
                _PG_LOCK_SENDERS, {"senders": senders})).scalars().all())
            senders = [w for w in senders if w in locked]
            if not senders:
                continue  # other workers are claiming exactly these senders: look again
            token = secrets.token_hex(16)
            lease_until = now + lease
            rows = (await self._conn.execute(
                _inbox_claim_many(filtered),
                {"senders": senders, "now": now, "channels": wanted, "token": token,
                 "lease": lease_until})).all()
            by_sender: dict[str, list[Any]] = {}
            for row in rows:
                by_sender.setdefault(row.wa_id, []).append(row)
            batches = []
            for wa_id in senders:
                claimed = sorted(by_sender.get(wa_id, ()), key=lambda r: (r.sent_at, r.id))
                if claimed:
                    batches.append(ClaimedBatch(
                        wa_id=wa_id, token=token, lease_until=lease_until,
                        items=tuple(InboxItem(id=int(r.id), message=_incoming_from_row(r),
                                              attempts=r.attempts) for r in claimed)))
            batches.sort(key=lambda b: (b.items[0].message.sent_at, b.items[0].id))
            return batches
        return []

    async def recover_expired(self, now: datetime) -> int:
        m = inbound_messages
        result = await self._conn.execute(
            m.update()
            .where(m.c.state == PROCESSING, m.c.lease_until < now)
            .values(state=PENDING, claim_token=None, lease_until=None)
        )
        return int(result.rowcount or 0)

    async def complete(self, batch: ClaimedBatch, now: datetime, *,
                       student_id: int | None, intent: str | None) -> bool:
        result = await self._conn.execute(_INBOX_COMPLETE, {
            "token": batch.token, "sender": batch.wa_id, "now": now, "sid": student_id,
            "why": intent})
        return (result.rowcount or 0) == len(batch.items)

    async def release(self, batch: ClaimedBatch, now: datetime, *, retry_at: datetime,
                      max_attempts: int) -> None:
        m = inbound_messages
        await self._conn.execute(
            m.update()
            .where(m.c.claim_token == batch.token, m.c.wa_id == batch.wa_id,
                   m.c.state == PROCESSING)
            .values(
                state=sa.case((m.c.attempts + 1 >= max_attempts, FAILED), else_=PENDING),
                attempts=m.c.attempts + 1, available_at=retry_at, claim_token=None,
                lease_until=None,
            )
        )

    async def depth(self, now: datetime) -> tuple[int, float]:
        m = inbound_messages
        # One aggregate per state: each matches its partial index, where ``state IN (…)``
        # made PostgreSQL scan the whole table (34 ms at 300k messages, growing).
        per_state = sa.union_all(*(
            sa.select(sa.func.count(), sa.func.min(m.c.received_at)).where(m.c.state == state)
            for state in (PENDING, PROCESSING)))
        rows = (await self._conn.execute(per_state)).all()
        count = sum(int(n or 0) for n, _ in rows)
        moments = [_as_datetime(oldest) for _, oldest in rows if oldest is not None]
        if not count or not moments:
            return 0, 0.0
        return count, max(0.0, (now - min(moments)).total_seconds())


def _as_datetime(value: Any) -> datetime:
    """min() over a UTCDateTime column skips the type's result processing on SQLite."""
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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
            "updated_at": message.created_at})
        message.id = int(result.scalar_one())
        return message.id

    async def claim_due(self, now: datetime, lease: timedelta, limit: int, *,
                        channels: Sequence[str] | None = None) -> list[OutboundMessage]:
        wanted = list(channels) if channels is not None else None
        rows = await self._conn.execute(
            _outbox_claim(self._dialect, wanted is not None),
            {"now": now, "lease": now + lease, "limit": limit, "channels": wanted})
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

    async def fail_abandoned(self, now: datetime) -> int:
        o = outbound_messages
        result = await self._conn.execute(
            o.update()
            .where(o.c.status == DeliveryStatus.SENDING.value, o.c.lease_until < now,
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
        return int(count), max(0.0, (now - _as_datetime(oldest)).total_seconds())

    async def get(self, message_id: int) -> OutboundMessage | None:
        row = (await self._conn.execute(
            sa.select(outbound_messages).where(outbound_messages.c.id == message_id)
        )).first()
        return None if row is None else _outbound_from_row(row)


class SqlConversationStore:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def record_webhook(self, *, channel: str, body: str, signature_ok: bool,
                             received_at: datetime, note: str | None = None) -> int:
        result = await self._conn.execute(_WEBHOOK_INSERT, {
            "channel": channel, "body": body, "signature_ok": signature_ok,
            "received_at": received_at, "note": note})
        return int(result.scalar_one())

    async def is_opted_out(self, phone: str) -> bool:
        found = await self._conn.scalar(
            sa.select(opt_outs.c.phone).where(opt_outs.c.phone == phone)
        )
        return found is not None

    async def sender_states(
        self, senders: Sequence[tuple[str, int | None]]
    ) -> list[tuple[bool, bool]]:
        phones = list({phone for phone, _ in senders})
        ids = list({sid for _, sid in senders if sid is not None})
        opted: set[str] = set()
        paused: set[int] = set()
        if phones:
            opted = set((await self._conn.execute(
                _OPTED_OUT_AMONG, {"phones": phones})).scalars().all())
        if ids:
            paused = {int(i) for i in (await self._conn.execute(
                _PAUSED_AMONG, {"ids": ids})).scalars().all()}
        return [(phone in opted, sid is not None and sid in paused) for phone, sid in senders]

    async def opt_out(self, phone: str, student_id: int | None, at: datetime) -> None:
        await self._conn.execute(
            upsert_into(self._dialect, opt_outs)
            .values(phone=phone, student_id=student_id, opted_out_at=at)
            .on_conflict_do_nothing(index_elements=["phone"])
        )

    async def opt_in(self, phone: str) -> bool:
        result = await self._conn.execute(opt_outs.delete().where(opt_outs.c.phone == phone))
        return bool(result.rowcount)

    async def open_handoff(self, student_id: int, wa_id: str, at: datetime) -> bool:
        if await self.has_open_handoff(student_id):
            return False
        await self._conn.execute(
            handoffs.insert().values(student_id=student_id, wa_id=wa_id, requested_at=at)
        )
        return True

    async def has_open_handoff(self, student_id: int) -> bool:
        found = await self._conn.scalar(
            sa.select(handoffs.c.id)
            .where(handoffs.c.student_id == student_id, handoffs.c.released_at.is_(None))
            .limit(1)
        )
        return found is not None

    async def release_handoff(self, student_id: int, at: datetime, by: str) -> bool:
        result = await self._conn.execute(
            handoffs.update()
            .where(handoffs.c.student_id == student_id, handoffs.c.released_at.is_(None))
            .values(released_at=at, released_by=by[:100])
        )
        return bool(result.rowcount)

    async def open_handoffs(self) -> list[tuple[int, str, datetime]]:
        rows = await self._conn.execute(
            sa.select(handoffs.c.student_id, handoffs.c.wa_id, handoffs.c.requested_at)
            .where(handoffs.c.released_at.is_(None))
            .order_by(handoffs.c.requested_at)
        )
        return [(int(r.student_id), r.wa_id, r.requested_at) for r in rows]

    async def history(self, student_id: int, page: PageRequest) -> Page[HistoryEntry]:
        window = page.offset + page.limit
        entries = await self._newest(student_id, window)
        i, o = inbound_messages, outbound_messages
        total_in = await self._conn.scalar(
            sa.select(sa.func.count()).select_from(i).where(i.c.student_id == student_id))
        total_out = await self._conn.scalar(
            sa.select(sa.func.count()).select_from(o).where(o.c.student_id == student_id))
        return Page(items=tuple(entries[page.offset:window]),
                    total=int(total_in or 0) + int(total_out or 0),
                    limit=page.limit, offset=page.offset)

    async def recent_history(self, student_id: int, limit: int) -> list[HistoryEntry]:
        return (await self._newest(student_id, limit))[:limit] if limit > 0 else []

    async def recent_history_each(self, student_ids: Sequence[int], limit: int
                                  ) -> dict[int, list[HistoryEntry]]:
        wanted = list(dict.fromkeys(student_ids))
        if limit <= 0 or not wanted:
            return {sid: [] for sid in wanted}
        if self._dialect != "postgresql":
            # SQLite: one writer, no pool to wait on; the same look-ups one after another.
            return {sid: await self.recent_history(sid, limit) for sid in wanted}
        # PostgreSQL: the newest rows of every student in two statements (LATERAL: each
        # student's rows come from the (student_id, time) index, however long the history).
        params = {"sids": wanted, "window": limit}
        found: dict[int, list[HistoryEntry]] = {sid: [] for sid in wanted}
        for r in await self._conn.execute(_PG_HISTORY_IN_EACH, params):
            found[int(r.sid)].append(_inbound_entry(r))
        for r in await self._conn.execute(_PG_HISTORY_OUT_EACH, params):
            found[int(r.sid)].append(_outbound_entry(r))
        return {sid: _newest_first(entries)[:limit] for sid, entries in found.items()}

    async def _newest(self, student_id: int, window: int) -> list[HistoryEntry]:
        """The newest ``window`` entries of each direction, merged newest first."""
        params = {"sid": student_id, "window": window}
        inbound = await self._conn.execute(_HISTORY_IN, params)
        outbound = await self._conn.execute(_HISTORY_OUT, params)
        return _newest_first([*map(_inbound_entry, inbound), *map(_outbound_entry, outbound)])


def _inbound_entry(r: Any) -> HistoryEntry:
    return HistoryEntry(direction="in", at=r.received_at, text=r.text, type=r.type,
                        state=r.state, provider_id=r.provider_id, intent=r.intent)


def _outbound_entry(r: Any) -> HistoryEntry:
    return HistoryEntry(direction="out", at=r.created_at, text=r.body, type="text",
                        state=r.status, provider_id=r.provider_id, error_code=r.error_code,
                        intent=r.intent)


def _newest_first(entries: list[HistoryEntry]) -> list[HistoryEntry]:
    """Newest first; an answer sorts before the question it answers at equal times."""
    entries.sort(key=lambda e: (e.at, e.direction == "out"), reverse=True)
    return entries
