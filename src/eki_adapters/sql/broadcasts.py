"""Broadcasts and their audiences over SQL (issue #16)."""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.tables import (
    broadcasts,
    guardian_links,
    guardians,
    no_whatsapp,
    opt_outs,
    outbound_messages,
    student_tags,
    students,
    tags,
)
from eki_domain.model.broadcasts import (
    Audience,
    Broadcast,
    BroadcastState,
    Candidate,
    RecipientKind,
    RecipientResult,
)
from eki_domain.model.messages import DeliveryStatus


def _row_values(b: Broadcast) -> dict[str, Any]:
    return {
        "name": b.name, "template_name": b.template, "template_language": b.language,
        "params": json.dumps(list(b.params), ensure_ascii=False),
        "tags": json.dumps(sorted(b.audience.tags), ensure_ascii=False),
        "all_tags": b.audience.all_tags, "recipients_kind": b.audience.to.value,
        "state": b.state.value, "scheduled_at": b.scheduled_at, "started_at": b.started_at,
        "queued_at": b.queued_at, "finished_at": b.finished_at, "created_at": b.created_at,
        "created_by": b.created_by, "recipients": b.recipients,
        "excluded": json.dumps(b.excluded),
    }


def _from_row(row: Any) -> Broadcast:
    return Broadcast(
        name=row.name, template=row.template_name, language=row.template_language,
        params=tuple(json.loads(row.params)),
        audience=Audience(frozenset(json.loads(row.tags)), bool(row.all_tags),
                          RecipientKind(row.recipients_kind)),
        created_at=row.created_at, created_by=row.created_by,
        state=BroadcastState(row.state), scheduled_at=row.scheduled_at,
        started_at=row.started_at, queued_at=row.queued_at, finished_at=row.finished_at,
        recipients=int(row.recipients), excluded=dict(json.loads(row.excluded)),
        id=int(row.id))


class SqlBroadcasts:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, broadcast: Broadcast) -> Broadcast:
        broadcast.id = int((await self._conn.execute(
            broadcasts.insert().values(_row_values(broadcast)).returning(broadcasts.c.id)
        )).scalar_one())
        return broadcast

    async def save(self, broadcast: Broadcast) -> None:
        await self._conn.execute(broadcasts.update().where(broadcasts.c.id == broadcast.id)
                                 .values(_row_values(broadcast)))

    async def get(self, broadcast_id: int) -> Broadcast | None:
        row = (await self._conn.execute(
            sa.select(broadcasts).where(broadcasts.c.id == broadcast_id))).first()
        return None if row is None else _from_row(row)

    async def recent(self, limit: int = 50) -> list[Broadcast]:
        rows = await self._conn.execute(
            sa.select(broadcasts).order_by(broadcasts.c.id.desc()).limit(limit))
        return [_from_row(r) for r in rows]

    async def pending(self, now: datetime) -> list[int]:
        b = broadcasts
        rows = await self._conn.execute(
            sa.select(b.c.id).where(sa.or_(
                sa.and_(b.c.state == BroadcastState.SCHEDULED.value, b.c.scheduled_at <= now),
                b.c.state == BroadcastState.SENDING.value)).order_by(b.c.id))
        return [int(r.id) for r in rows]

    async def status_counts(self, broadcast_ids: Collection[int]
                            ) -> dict[int, dict[str, int]]:
        o = outbound_messages
        counts: dict[int, dict[str, int]] = {}
        if not broadcast_ids:
            return counts
        rows = await self._conn.execute(
            sa.select(o.c.broadcast_id, o.c.status, sa.func.count())
            .where(o.c.broadcast_id.in_(sorted(set(broadcast_ids))))
            .group_by(o.c.broadcast_id, o.c.status))
        for broadcast_id, status, n in rows:
            counts.setdefault(int(broadcast_id), {})[str(status)] = int(n)
        return counts

    async def results(self, broadcast_id: int, limit: int) -> list[RecipientResult]:
        o, s = outbound_messages, students
        rows = await self._conn.execute(
            sa.select(o.c.to_wa_id, o.c.student_id, s.c.name, o.c.status, o.c.error_code,
                      o.c.error_title, o.c.updated_at)
            .select_from(o.outerjoin(s, s.c.id == o.c.student_id))
            .where(o.c.broadcast_id == broadcast_id).order_by(o.c.id).limit(limit))
        return [RecipientResult(to=r.to_wa_id, student_id=r.student_id, student_name=r.name,
                                status=r.status, error_code=r.error_code,
                                error_title=r.error_title, updated_at=r.updated_at)
                for r in rows]

    async def hold(self, broadcast_id: int, until: datetime) -> int:
        return await self._move(broadcast_id, next_attempt_at=until)

    async def release(self, broadcast_id: int, now: datetime) -> int:
        return await self._move(broadcast_id, next_attempt_at=now)

    async def cancel_rows(self, broadcast_id: int, code: str, now: datetime) -> int:
        return await self._move(broadcast_id, status=DeliveryStatus.FAILED.value,
                                error_code=code, error_title="difusión cancelada",
                                updated_at=now)

    async def _move(self, broadcast_id: int, **values: Any) -> int:
        o = outbound_messages
        result = await self._conn.execute(
            o.update().where(o.c.broadcast_id == broadcast_id,
                             o.c.status == DeliveryStatus.QUEUED.value).values(**values))
        return int(result.rowcount or 0)


def _opted(phone: Any) -> Any:
    return sa.exists().where(opt_outs.c.phone == phone).label("opted")


def _no_whatsapp(wa_id: Any) -> Any:
    return sa.exists().where(no_whatsapp.c.wa_id == wa_id).label("nowa")


class SqlAudiences:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def candidates(self, audience: Audience) -> list[Candidate]:
        s, st, t = students, student_tags, tags
        selected: Any = sa.select(s.c.id)
        if audience.tags:
            tagged = (sa.select(st.c.student_id).join(t, t.c.id == st.c.tag_id)
                      .where(t.c.name.in_(sorted(audience.tags))))
            if audience.all_tags:
                tagged = tagged.group_by(st.c.student_id).having(
                    sa.func.count(sa.distinct(t.c.id)) == len(audience.tags))
            selected = tagged
        rows = await self._conn.execute(
            sa.select(s.c.id, s.c.name, s.c.phone, s.c.wa_id, s.c.active, t.c.name.label("tag"),
                      _opted(s.c.phone), _no_whatsapp(sa.func.coalesce(
                          s.c.wa_id, sa.func.ltrim(s.c.phone, "+"))))
            .select_from(s.outerjoin(st, st.c.student_id == s.c.id)
                         .outerjoin(t, t.c.id == st.c.tag_id))
            .where(s.c.id.in_(selected)))
        found: dict[int, dict[str, Any]] = {}
        for r in rows:
            entry = found.setdefault(int(r.id), {"name": r.name, "phone": r.phone,
                                                 "wa_id": r.wa_id, "active": bool(r.active),
                                                 "tags": set(), "opted": bool(r.opted),
                                                 "nowa": bool(r.nowa)})
            if r.tag is not None:
                entry["tags"].add(r.tag)
        out: list[Candidate] = []
        if audience.to in (RecipientKind.STUDENTS, RecipientKind.BOTH):
            out.extend(Candidate(
                kind="student", name=e["name"], phone=e["phone"],
                wa_id=e["wa_id"] or e["phone"].lstrip("+"), student_id=sid,
                student_name=e["name"], student_tags=frozenset(e["tags"]),
                active=e["active"], opted_out=e["opted"], no_whatsapp=e["nowa"])
                for sid, e in found.items())
        if audience.to in (RecipientKind.GUARDIANS, RecipientKind.BOTH) and found:
            g, link = guardians, guardian_links
            links = await self._conn.execute(
                sa.select(g.c.name, g.c.phone, g.c.active, link.c.student_id,
                          link.c.may_receive_alerts, link.c.priority, _opted(g.c.phone),
                          _no_whatsapp(sa.func.ltrim(g.c.phone, "+")))
                .select_from(link.join(g, g.c.id == link.c.guardian_id))
                .where(link.c.student_id.in_(selected)))
            for r in links:
                e = found.get(int(r.student_id))
                if e is None:
                    continue
                out.append(Candidate(
                    kind="guardian", name=r.name, phone=r.phone,
                    wa_id=r.phone.lstrip("+"), student_id=int(r.student_id),
                    student_name=e["name"], student_tags=frozenset(e["tags"]),
                    active=bool(r.active) and e["active"],
                    allowed=bool(r.may_receive_alerts), priority=int(r.priority),
                    opted_out=bool(r.opted), no_whatsapp=bool(r.nowa)))
        return out
