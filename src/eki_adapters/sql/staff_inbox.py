"""The staff inbox over SQL (issue #15): notes and system events of a thread, quick replies,
and the read model of the inbox list (a few grouped statements for all listed students)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.queries import as_datetime
from eki_adapters.sql.tables import (
    handoffs,
    inbound_messages,
    inbox_notes,
    inbox_seen,
    opt_outs,
    outbound_messages,
    quick_replies,
    student_tags,
    tags,
)
from eki_domain.model.inbox import Activity, InboxNote, NoteKind, QuickReply, ThreadItem

#: Characters of the last message shown in the list.
PREVIEW_CHARS = 160


def _maybe(value: Any) -> datetime | None:
    return None if value is None else as_datetime(value)


def _note(row: Any) -> InboxNote:
    return InboxNote(student_id=int(row.student_id), kind=NoteKind(row.kind), body=row.body,
                     at=row.at, author=row.author, event=row.event, id=int(row.id))


class SqlInboxNotes:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, note: InboxNote) -> int:
        result = await self._conn.execute(
            inbox_notes.insert().values(student_id=note.student_id, kind=note.kind.value,
                                        event=note.event, author=note.author, body=note.body,
                                        at=note.at).returning(inbox_notes.c.id))
        return int(result.scalar_one())

    async def for_student(self, student_id: int, since: datetime | None = None
                          ) -> list[InboxNote]:
        n = inbox_notes
        query = sa.select(n).where(n.c.student_id == student_id)
        if since is not None:
            query = query.where(n.c.at >= since)
        rows = await self._conn.execute(query.order_by(n.c.at, n.c.id))
        return [_note(r) for r in rows]


def _reply(row: Any) -> QuickReply:
    return QuickReply(shortcut=row.shortcut, body=row.body, updated_by=row.updated_by,
                      updated_at=row.updated_at, id=int(row.id))


class SqlQuickReplies:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def list(self) -> list[QuickReply]:
        rows = await self._conn.execute(sa.select(quick_replies)
                                        .order_by(quick_replies.c.shortcut))
        return [_reply(r) for r in rows]

    async def save(self, reply: QuickReply) -> bool:
        q = quick_replies
        values = {"body": reply.body, "updated_by": reply.updated_by,
                  "updated_at": reply.updated_at}
        result = await self._conn.execute(
            q.update().where(q.c.shortcut == reply.shortcut).values(**values))
        if result.rowcount:
            return False
        await self._conn.execute(q.insert().values(shortcut=reply.shortcut, **values))
        return True

    async def delete(self, shortcut: str) -> bool:
        q = quick_replies
        result = await self._conn.execute(q.delete().where(q.c.shortcut == shortcut))
        return bool(result.rowcount)


def _newest(table: sa.Table, time: sa.Column[Any], text: sa.Column[Any],
            ids: list[int]) -> sa.Select[Any]:
    """The newest row of each student (window function: SQLite ≥ 3.25 and PostgreSQL)."""
    rank = sa.func.row_number().over(partition_by=table.c.student_id,
                                     order_by=(time.desc(), table.c.id.desc())).label("rn")
    inner = (sa.select(table.c.student_id, time.label("at"), text.label("text"), rank)
             .where(table.c.student_id.in_(ids)).subquery())
    return sa.select(inner.c.student_id, inner.c.at, inner.c.text).where(inner.c.rn == 1)


class SqlInboxViews:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def activity(self, student_ids: Sequence[int], reader: str) -> dict[int, Activity]:
        ids = list(dict.fromkeys(int(s) for s in student_ids))
        if not ids:
            return {}
        i, o, s = inbound_messages, outbound_messages, inbox_seen
        values: dict[int, dict[str, Any]] = {sid: {} for sid in ids}
        last_staff = (sa.select(sa.func.max(o.c.created_at))
                      .where(o.c.student_id == i.c.student_id, o.c.author.is_not(None))
                      .scalar_subquery())
        rows = await self._conn.execute(
            sa.select(
                i.c.student_id, sa.func.max(i.c.sent_at).label("last_sent"),
                sa.func.sum(sa.case((s.c.seen_at.is_(None), 1),
                                    (i.c.received_at > s.c.seen_at, 1), else_=0)
                            ).label("unread"),
                sa.func.min(sa.case((sa.or_(last_staff.is_(None),
                                            i.c.received_at > last_staff), i.c.received_at))
                            ).label("unanswered"))
            .select_from(i.outerjoin(s, sa.and_(s.c.student_id == i.c.student_id,
                                                 s.c.reader == reader[:254])))
            .where(i.c.student_id.in_(ids)).group_by(i.c.student_id))
        for r in rows:
            values[int(r.student_id)].update(last_inbound_at=_maybe(r.last_sent),
                                             unread=int(r.unread or 0),
                                             first_unanswered_at=_maybe(r.unanswered))
        rows = await self._conn.execute(
            sa.select(o.c.student_id,
                      sa.func.max(sa.case((o.c.author.is_not(None), o.c.created_at))
                                  ).label("last_staff"))
            .where(o.c.student_id.in_(ids)).group_by(o.c.student_id))
        for r in rows:
            values[int(r.student_id)]["last_staff_at"] = _maybe(r.last_staff)
        newest: dict[int, tuple[datetime, int, str, str | None]] = {}
        for direction, order, query in (
                ("in", 0, _newest(i, i.c.received_at, i.c.text, ids)),
                ("out", 1, _newest(o, o.c.created_at, o.c.body, ids))):
            for r in await self._conn.execute(query):
                line = (as_datetime(r.at), order, direction, r.text)
                sid = int(r.student_id)
                if sid not in newest or line[:2] > newest[sid][:2]:
                    newest[sid] = line
        found = {}
        for sid in ids:
            last = newest.get(sid)
            text = last[3] if last else None
            found[sid] = Activity(
                student_id=sid, last_at=last[0] if last else None,
                last_direction=last[2] if last else None,
                last_text=None if text is None else text[:PREVIEW_CHARS], **values[sid])
        return found

    async def recent_students(self, since: datetime, any_tags: frozenset[str] | None,
                              limit: int) -> list[int]:
        i = inbound_messages
        newest = sa.func.max(i.c.received_at).label("newest")
        query = (sa.select(i.c.student_id, newest)
                 .where(i.c.received_at >= since, i.c.student_id.is_not(None)))
        if any_tags is not None:
            if not any_tags:
                return []
            query = query.where(sa.exists().where(
                student_tags.c.student_id == i.c.student_id,
                student_tags.c.tag_id.in_(sa.select(tags.c.id)
                                          .where(tags.c.name.in_(sorted(any_tags))))))
        rows = await self._conn.execute(
            query.group_by(i.c.student_id).order_by(newest.desc(), i.c.student_id.desc())
            .limit(limit))
        return [int(r.student_id) for r in rows]

    async def pending_inbound(self, since: datetime, limit: int
                              ) -> list[tuple[str, datetime, datetime, str | None, str]]:
        i = inbound_messages
        rows = await self._conn.execute(
            sa.select(i.c.wa_id, i.c.received_at, i.c.sent_at, i.c.text, i.c.type)
            .where(i.c.student_id.is_(None), i.c.state.in_(("pending", "processing")),
                   i.c.received_at >= since)
            .order_by(i.c.received_at, i.c.id).limit(limit))
        return [(r.wa_id, r.received_at, r.sent_at, r.text, r.type) for r in rows]

    async def opted_out_at(self, phone: str) -> datetime | None:
        found = await self._conn.scalar(sa.select(opt_outs.c.opted_out_at)
                                        .where(opt_outs.c.phone == phone[:20]))
        return _maybe(found)

    async def mark_seen(self, reader: str, student_id: int, at: datetime) -> None:
        s = inbox_seen
        result = await self._conn.execute(
            s.update().where(s.c.reader == reader[:254], s.c.student_id == student_id)
            .values(seen_at=at))
        if not result.rowcount:
            await self._conn.execute(s.insert().values(reader=reader[:254],
                                                       student_id=student_id, seen_at=at))

    async def thread(self, student_id: int, limit: int) -> list[ThreadItem]:
        if limit <= 0:
            return []
        i, o = inbound_messages, outbound_messages
        inbound = await self._conn.execute(
            sa.select(i.c.received_at, i.c.text, i.c.state, i.c.type)
            .where(i.c.student_id == student_id)
            .order_by(i.c.received_at.desc(), i.c.id.desc()).limit(limit))
        outbound = await self._conn.execute(
            sa.select(o.c.id, o.c.created_at, o.c.body, o.c.author, o.c.status, o.c.error_code,
                      o.c.error_title, o.c.template_name)
            .where(o.c.student_id == student_id)
            .order_by(o.c.created_at.desc(), o.c.id.desc()).limit(limit))
        items = [ThreadItem(kind="in", at=r.received_at, text=r.text, state=r.state,
                            type=r.type) for r in inbound]
        items += [ThreadItem(kind="out", at=r.created_at, text=r.body, author=r.author,
                             state=r.status, error_code=r.error_code,
                             error_title=r.error_title, outbound_id=int(r.id),
                             template=r.template_name) for r in outbound]
        items.sort(key=lambda t: (t.at, t.kind == "out", t.outbound_id or 0))
        return items[-limit:]

    async def handoff_spans(self, student_id: int, since: datetime
                            ) -> list[tuple[datetime, datetime | None, str | None]]:
        h = handoffs
        rows = await self._conn.execute(
            sa.select(h.c.requested_at, h.c.released_at, h.c.released_by)
            .where(h.c.student_id == student_id, h.c.requested_at >= since)
            .order_by(h.c.requested_at, h.c.id))
        return [(r.requested_at, r.released_at, r.released_by) for r in rows]

    async def first_responses(self, since: datetime
                              ) -> list[tuple[int, datetime, datetime | None, datetime | None]]:
        h, o = handoffs, outbound_messages
        first = (sa.select(sa.func.min(o.c.created_at))
                 .where(o.c.student_id == h.c.student_id, o.c.author.is_not(None),
                        o.c.created_at >= h.c.requested_at,
                        sa.or_(h.c.released_at.is_(None), o.c.created_at <= h.c.released_at))
                 .scalar_subquery().label("first"))
        rows = await self._conn.execute(
            sa.select(h.c.student_id, h.c.requested_at, h.c.released_at, first)
            .where(h.c.requested_at >= since).order_by(h.c.requested_at, h.c.id))
        return [(int(r.student_id), r.requested_at, r.released_at, _maybe(r.first))
                for r in rows]
