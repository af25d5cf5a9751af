"""Conversation state over SQL, one class per port: the webhook log, opt-outs, hand-offs
and a student's message history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.queries import insert_of
from eki_adapters.sql.tables import (
    handoffs,
    inbound_messages,
    opt_outs,
    outbound_messages,
    webhook_events,
)
from eki_domain.model.messages import HistoryEntry
from eki_domain.model.pagination import Page, PageRequest

_WEBHOOK_INSERT = insert_of(
    webhook_events, ("channel", "body", "signature_ok", "received_at", "note")
).returning(webhook_events.c.id)
_OPTED_OUT_AMONG = sa.select(opt_outs.c.phone).where(
    opt_outs.c.phone.in_(sa.bindparam("phones", expanding=True)))
_PAUSED_AMONG = sa.select(handoffs.c.student_id).where(
    handoffs.c.student_id.in_(sa.bindparam("ids", expanding=True)),
    handoffs.c.released_at.is_(None))


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



class SqlWebhookLog:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def record(self, *, channel: str, body: str, signature_ok: bool,
                     received_at: datetime, note: str | None = None) -> int:
        result = await self._conn.execute(_WEBHOOK_INSERT, {
            "channel": channel, "body": body, "signature_ok": signature_ok,
            "received_at": received_at, "note": note})
        return int(result.scalar_one())


class SqlOptOuts:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def opted_out_among(self, phones: Sequence[str]) -> set[str]:
        wanted = list(dict.fromkeys(phones))
        if not wanted:
            return set()
        return set((await self._conn.execute(
            _OPTED_OUT_AMONG, {"phones": wanted})).scalars().all())

    async def opt_out(self, phone: str, student_id: int | None, at: datetime) -> None:
        await self._conn.execute(
            upsert_into(self._dialect, opt_outs)
            .values(phone=phone, student_id=student_id, opted_out_at=at)
            .on_conflict_do_nothing(index_elements=["phone"])
        )

    async def opt_in(self, phone: str) -> bool:
        result = await self._conn.execute(opt_outs.delete().where(opt_outs.c.phone == phone))
        return bool(result.rowcount)


class SqlHandoffs:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def paused_among(self, student_ids: Sequence[int]) -> set[int]:
        wanted = list(dict.fromkeys(student_ids))
        if not wanted:
            return set()
        return {int(i) for i in (await self._conn.execute(
            _PAUSED_AMONG, {"ids": wanted})).scalars().all()}

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


class SqlHistory:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def page(self, student_id: int, page: PageRequest) -> Page[HistoryEntry]:
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

    async def recent(self, student_id: int, limit: int) -> list[HistoryEntry]:
        return (await self._newest(student_id, limit))[:limit] if limit > 0 else []

    async def recent_each(self, student_ids: Sequence[int], limit: int
                          ) -> dict[int, list[HistoryEntry]]:
        """:meth:`recent` of each student (every id is a key, [] when none), read together:
        the batched loader's API (``eki_adapters.batching``), not a port method."""
        wanted = list(dict.fromkeys(student_ids))
        if limit <= 0 or not wanted:
            return {sid: [] for sid in wanted}
        if self._dialect != "postgresql":
            # SQLite: one writer, no pool to wait on; the same look-ups one after another.
            return {sid: await self.recent(sid, limit) for sid in wanted}
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
