"""The inbox over SQL: stored inbound messages, claimed per sender by a worker.

A short transaction marks rows ``processing`` with a token, the claiming worker's id
(``claimed_by``, its heartbeat) and a lease; the claim holds while that worker beats
(however long the assistant takes) and comes back within seconds once it stops; claims
made without a worker id hold until the lease expires. The slow work (the assistant)
happens outside any transaction, and completing checks the token. On PostgreSQL
candidates are picked with ``FOR UPDATE SKIP LOCKED`` and a per-sender advisory lock, so
concurrent workers never wait on each other.
"""

from __future__ import annotations

import functools
import json
import secrets
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.conversations import SqlWebhookLog
from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.outbox import OUTBOX_COLUMNS, SqlOutbox, outbox_row
from eki_adapters.sql.queries import abandoned_claims, as_datetime, channel_filter
from eki_adapters.sql.tables import (
    UTCDateTime,
    inbound_messages,
    webhook_events,
)
from eki_adapters.sql.wakeups import INBOX_CHANNEL
from eki_domain.model.messages import (
    ClaimedBatch,
    InboxItem,
    InboxState,
    IncomingMessage,
    MessageType,
    OutboundMessage,
    TurnEnd,
    WebhookDelivery,
)

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


_INBOX_COLUMNS = (
    "channel", "provider_id", "wa_id", "profile_name", "type", "text", "payload", "context_id",
    "media_id", "mime_type", "is_voice", "reaction_to", "reaction_emoji", "system_type",
    "new_wa_id", "raw", "sent_at", "received_at", "state", "available_at", "attempts",
)
_INBOX_COMPLETE = (
    inbound_messages.update()
    .where(inbound_messages.c.claim_token == sa.bindparam("token"),
           inbound_messages.c.wa_id == sa.bindparam("sender"),
           inbound_messages.c.state == PROCESSING)
    .values(state=DONE, processed_at=sa.bindparam("now", type_=UTCDateTime()),
            student_id=sa.bindparam("sid"), intent=sa.bindparam("why"), lease_until=None)
)
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
        .where(channel_filter(m, filtered))
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
        .where(channel_filter(m, filtered))
        .where(~_sender_busy(sa.bindparam("sender")))
        .values(state=PROCESSING, claim_token=sa.bindparam("token"),
                claimed_by=sa.bindparam("owner", type_=m.c.claimed_by.type),
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
        .where(channel_filter(m, filtered))
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
        .where(channel_filter(m, filtered))
        .where(~_sender_busy(m.c.wa_id))
        .values(state=PROCESSING, claim_token=sa.bindparam("token"),
                claimed_by=sa.bindparam("owner", type_=m.c.claimed_by.type),
                lease_until=sa.bindparam("lease", type_=UTCDateTime()))
        .returning(*m.c)
    )


_PG_EVENT_AND_MESSAGE = _pg_event_and_message()

#: The inbox columns of one stored message, as ``_pg_events_and_messages`` reads them.
_JSON_COLUMNS = tuple((c, "boolean" if c == "is_voice" else
                       "timestamptz" if c in ("sent_at", "received_at") else "text")
                      for c in _INBOX_COLUMNS
                      if c not in ("state", "available_at", "attempts"))


def _pg_events_and_messages() -> Any:
    """Several deliveries in one statement: their events (ids in order) and their messages
    (insert-or-ignore, the new ones returned), each kind of row as one JSON array (parsed
    by PostgreSQL: cheaper to send than an array per column, whose text elements psycopg
    escapes one by one)."""
    names = ", ".join(c for c, _ in _JSON_COLUMNS)
    typed = ", ".join(f"{c} {t}" for c, t in _JSON_COLUMNS)
    events = ("WITH ev AS (INSERT INTO webhook_events (channel, body, signature_ok, "
              "received_at, note) SELECT e.channel, e.body, true, e.received_at, e.note "
              "FROM json_to_recordset(CAST(:events AS json)) AS e(channel text, body text, "
              "received_at timestamptz, note text, part int) ORDER BY e.part RETURNING id), ")
    sql = events + ("msg AS (INSERT INTO inbound_messages (" + names  # noqa: S608
           + ", state, available_at, attempts) SELECT " + ", ".join(
               f"m.{c}" for c, _ in _JSON_COLUMNS)
           + ", :pending, m.received_at, 0 FROM json_to_recordset(CAST(:messages AS json)) "
           "AS m(" + typed + ", part int) ORDER BY m.part "
           "ON CONFLICT (channel, provider_id) DO NOTHING "
           "RETURNING channel, provider_id, pg_notify(:wake, '')) "
           "SELECT id, NULL AS channel, NULL AS provider_id FROM ev UNION ALL "
           "SELECT NULL, channel, provider_id FROM msg")
    return sa.text(sql).bindparams(
        sa.bindparam("pending", PENDING, type_=inbound_messages.c.state.type),
        sa.bindparam("wake", INBOX_CHANNEL))


_PG_EVENTS_AND_MESSAGES = _pg_events_and_messages()


#: The JSON types of the reply columns that are not text (``outbox_row`` gives the rest).
_REPLY_TYPES = {"student_id": "bigint", "inbound_id": "bigint", "attempts": "int",
                "broadcast_id": "bigint", "next_attempt_at": "timestamptz",
                "created_at": "timestamptz", "updated_at": "timestamptz"}
_REPLY_COLUMNS = ", ".join(OUTBOX_COLUMNS)
#: Each turn's batch done (``whole``: the turns whose every message was still claimed)…
_TURNS_DONE = (
    "WITH t AS (SELECT * FROM json_to_recordset(CAST(:ends AS json)) AS t(turn int, "
    "token text, sender text, n int, sid bigint, why text, at timestamptz)), "
    "done AS (UPDATE inbound_messages AS m SET state = :done, processed_at = t.at, "
    "student_id = t.sid, intent = t.why, lease_until = NULL FROM t "
    "WHERE m.claim_token = t.token AND m.wa_id = t.sender AND m.state = :processing "
    "RETURNING t.turn, t.n), "
    "whole AS (SELECT turn FROM done GROUP BY turn, n HAVING count(*) = n), ")
#: … and the replies of the whole ones queued, each row as the outbox writes it
#: (``outbox_row``): one statement for any number of turns.
_PG_TURN_ENDS = sa.text(
    _TURNS_DONE + "ins AS (INSERT INTO outbound_messages (" + _REPLY_COLUMNS  # noqa: S608
    + ") SELECT " + ", ".join(f"p.{c}" for c in OUTBOX_COLUMNS)
    + " FROM json_to_recordset(CAST(:parts AS json)) AS p(turn int, part int, "
    + ", ".join(f"{c} {_REPLY_TYPES.get(c, 'text')}" for c in OUTBOX_COLUMNS)
    + ") WHERE p.turn IN (SELECT turn FROM whole) ORDER BY p.turn, p.part "
    "RETURNING id, inbound_id) "
    "SELECT turn, NULL::bigint AS id, NULL::bigint AS inbound_id FROM whole UNION ALL "
    "SELECT NULL, id, inbound_id FROM ins"
).bindparams(
    sa.bindparam("done", DONE, type_=inbound_messages.c.state.type),
    sa.bindparam("processing", PROCESSING, type_=inbound_messages.c.state.type))


def _answers_one_message(replies: Sequence[OutboundMessage]) -> bool:
    """Whether every part answers the same inbound message: ``_PG_TURN_ENDS`` maps its new
    rows back to the parts by that id."""
    return all(m.inbound_id is not None and m.inbound_id == replies[0].inbound_id
               for m in replies)


def _reply_part(turn: int, part: int, message: OutboundMessage) -> dict[str, Any]:
    row = outbox_row(message)
    for column in ("next_attempt_at", "created_at", "updated_at"):
        row[column] = row[column].isoformat()
    return {"turn": turn, "part": part, **row}


class SqlInbox:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def _commit_by_itself(self, alone: bool) -> None:
        """With nothing else in this unit of work (``alone``, no transaction begun), the
        next statement — atomic on its own — commits by itself: no BEGIN and COMMIT round
        trips (the connection's mode is client-side in psycopg and reset when it goes back
        to the pool)."""
        if alone and not self._conn.in_transaction():
            await self._conn.execution_options(isolation_level="AUTOCOMMIT")

    async def add(self, messages: Sequence[IncomingMessage], received_at: datetime) -> int:
        added = 0
        statement = _inbox_insert(self._dialect)
        for m in messages:
            result = await self._conn.execute(statement, _inbox_row(m, received_at))
            # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT here.
            added += len(result.all())
        return added

    async def add_event(self, *, channel: str, body: str, received_at: datetime,
                        note: str | None, messages: Sequence[IncomingMessage],
                        alone: bool = False) -> tuple[int, int]:
        if self._dialect != "postgresql" or len(messages) != 1:
            event_id = await SqlWebhookLog(self._conn).record(
                channel=channel, body=body, signature_ok=True, received_at=received_at,
                note=note)
            return event_id, await self.add(messages, received_at) if messages else 0
        # The usual delivery (one message) on PostgreSQL: the event and the inbox row in one
        # statement (data-modifying CTEs), one round trip less on the webhook's hot path.
        await self._commit_by_itself(alone)
        row = (await self._conn.execute(_PG_EVENT_AND_MESSAGE, {
            "ev_channel": channel, "ev_body": body, "ev_note": note,
            **_inbox_row(messages[0], received_at)})).one()
        return int(row[0]), int(row[1])

    async def add_events(self, deliveries: Sequence[WebhookDelivery], *,
                         alone: bool = False) -> list[tuple[int, int]]:
        if self._dialect != "postgresql" or len(deliveries) < 2:
            return [await self.add_event(channel=d.channel, body=d.body,
                                         received_at=d.received_at, note=d.note,
                                         messages=d.messages,
                                         alone=alone and len(deliveries) == 1)
                    for d in deliveries]
        await self._commit_by_itself(alone)
        events = [{"channel": d.channel, "body": d.body, "note": d.note, "part": n,
                   "received_at": d.received_at.isoformat()}
                  for n, d in enumerate(deliveries)]
        messages: list[dict[str, Any]] = []
        for d in deliveries:
            for m in d.messages:
                row = _inbox_row(m, d.received_at)
                row = {c: row[c] for c, _ in _JSON_COLUMNS}
                row["sent_at"] = m.sent_at.isoformat()
                row["received_at"] = d.received_at.isoformat()
                row["part"] = len(messages)
                messages.append(row)
        result = (await self._conn.execute(_PG_EVENTS_AND_MESSAGES, {
            "events": json.dumps(events, ensure_ascii=False),
            "messages": json.dumps(messages, ensure_ascii=False)})).all()
        event_ids = sorted(int(r.id) for r in result if r.id is not None)
        new = {(r.channel, r.provider_id) for r in result if r.id is None}
        stored: list[tuple[int, int]] = []
        for delivery, event_id in zip(deliveries, event_ids, strict=True):
            count = 0
            for m in delivery.messages:
                key = (m.channel, m.provider_id)
                if key in new:
                    new.discard(key)  # a message in two deliveries is new for the first
                    count += 1
            stored.append((event_id, count))
        return stored

    async def claim(self, now: datetime, lease: timedelta, *,
                    channels: Sequence[str] | None = None,
                    owner: str | None = None) -> ClaimedBatch | None:
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
                 "lease": lease_until, "owner": owner})).all())
            if not rows:
                skip.append(wa_id)  # taken by another worker between the two statements
                continue
            rows.sort(key=lambda r: (r.sent_at, r.id))
            items = tuple(InboxItem(id=int(r.id), message=_incoming_from_row(r),
                                    attempts=r.attempts) for r in rows)
            return ClaimedBatch(wa_id=wa_id, items=items, token=token, lease_until=lease_until)
        return None

    async def claim_many(self, now: datetime, lease: timedelta, limit: int, *,
                         channels: Sequence[str] | None = None,
                         owner: str | None = None) -> list[ClaimedBatch]:
        if self._dialect != "postgresql":
            # One writer at a time (SQLite): claiming sender by sender costs nothing extra.
            batches: list[ClaimedBatch] = []
            while len(batches) < limit:
                batch = await self.claim(now, lease, channels=channels, owner=owner)
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
                 "lease": lease_until, "owner": owner})).all()
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

    async def recover_expired(self, now: datetime, *,
                              live_owners: Collection[str] | None = None) -> int:
        m = inbound_messages
        result = await self._conn.execute(
            m.update()
            .where(abandoned_claims(m, m.c.state == PROCESSING, now, live_owners))
            .values(state=PENDING, claim_token=None, claimed_by=None, lease_until=None)
        )
        return int(result.rowcount or 0)

    async def release_orphans(self, owner: str, keep: Collection[str]) -> int:
        m = inbound_messages
        result = await self._conn.execute(
            m.update()
            .where(m.c.state == PROCESSING, m.c.claimed_by == owner,
                   m.c.wa_id.not_in(sorted(keep)))
            .values(state=PENDING, claim_token=None, claimed_by=None, lease_until=None)
        )
        return int(result.rowcount or 0)

    async def complete(self, batch: ClaimedBatch, now: datetime, *,
                       student_id: int | None, intent: str | None,
                       replies: Sequence[OutboundMessage] = (), alone: bool = False) -> bool:
        end = TurnEnd(batch=batch, at=now, student_id=student_id, intent=intent,
                      replies=tuple(replies))
        if self._dialect == "postgresql" and _answers_one_message(replies):
            # The turn's usual end on PostgreSQL: one statement, one round trip; it commits
            # by itself when nothing else is in this unit of work and nothing can be left
            # half-done (one message: claimed or not).
            (done,) = await self._end_turns([end], autocommit=alone and len(batch.items) == 1)
            return done
        result = await self._conn.execute(_INBOX_COMPLETE, {
            "token": batch.token, "sender": batch.wa_id, "now": now, "sid": student_id,
            "why": intent})
        if (result.rowcount or 0) != len(batch.items):
            return False
        outbox = SqlOutbox(self._conn)
        for message in end.replies:
            await outbox.enqueue(message)
        return True

    async def complete_many(self, ends: Sequence[TurnEnd], *,
                            alone: bool = False) -> list[bool]:
        if any(len(e.batch.items) != 1 for e in ends):
            raise ValueError("complete_many takes batches of one message each")
        if (self._dialect != "postgresql" or len(ends) < 2
                or not all(_answers_one_message(e.replies) for e in ends)):
            return [await self.complete(e.batch, e.at, student_id=e.student_id,
                                        intent=e.intent, replies=e.replies,
                                        alone=alone and len(ends) == 1) for e in ends]
        # Each turn's part of the statement is whole or nothing (one message per batch).
        return await self._end_turns(ends, autocommit=alone)

    async def _end_turns(self, ends: Sequence[TurnEnd], *, autocommit: bool) -> list[bool]:
        """``_PG_TURN_ENDS``: whether each turn's claim held (its replies' ids set)."""
        await self._commit_by_itself(autocommit)
        turns = [{"turn": n, "token": e.batch.token, "sender": e.batch.wa_id,
                  "n": len(e.batch.items), "sid": e.student_id, "why": e.intent,
                  "at": e.at.isoformat()}
                 for n, e in enumerate(ends)]
        parts = [_reply_part(n, k, m)
                 for n, e in enumerate(ends) for k, m in enumerate(e.replies)]
        rows = (await self._conn.execute(_PG_TURN_ENDS, {
            "ends": json.dumps(turns, ensure_ascii=False),
            "parts": json.dumps(parts, ensure_ascii=False)})).all()
        done = {int(r.turn) for r in rows if r.turn is not None}
        ids: dict[int, list[int]] = {}
        for r in rows:
            if r.turn is None:
                ids.setdefault(int(r.inbound_id), []).append(int(r.id))
        # The rows were inserted ORDER BY turn, part and their identities drawn in that
        # order (what PostgreSQL does, not what it promises): the parts of a turn get its
        # ids sorted. test_turn_end's parts-in-order test pins it.
        for n, end in enumerate(ends):
            if n in done and end.replies:
                got = sorted(ids.get(end.replies[0].inbound_id or 0, []))
                for message, message_id in zip(end.replies, got, strict=True):
                    message.id = message_id
        return [n in done for n in range(len(ends))]

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
        moments = [as_datetime(oldest) for _, oldest in rows if oldest is not None]
        if not count or not moments:
            return 0, 0.0
        return count, max(0.0, (now - min(moments)).total_seconds())
