"""What staff send, over SQL: the template registry, the 24-hour window (the newest inbound
timestamp of a person) and who owns a conversation a person took over."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.queries import as_datetime
from eki_adapters.sql.tables import handoffs, inbound_messages, message_templates
from eki_domain.model.templates import MessageTemplate, TemplateCategory, TemplateStatus


def _template(row: Any) -> MessageTemplate:
    return MessageTemplate(
        name=row.name, language=row.language, category=TemplateCategory(row.category),
        body=row.body, status=TemplateStatus(row.status), source=row.source,
        content_sid=row.content_sid, updated_at=row.updated_at)


class SqlTemplates:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def upsert(self, template: MessageTemplate) -> bool:
        t = message_templates
        values = {"category": template.category.value, "status": template.status.value,
                  "body": template.body, "source": template.source,
                  "content_sid": template.content_sid, "updated_at": template.updated_at}
        result = await self._conn.execute(
            t.update().where(t.c.name == template.name, t.c.language == template.language)
            .values(**values))
        if result.rowcount:
            return False
        await self._conn.execute(t.insert().values(name=template.name,
                                                   language=template.language, **values))
        return True

    async def get(self, name: str, language: str) -> MessageTemplate | None:
        t = message_templates
        row = (await self._conn.execute(
            sa.select(t).where(t.c.name == name, t.c.language == language))).first()
        return None if row is None else _template(row)

    async def list(self) -> list[MessageTemplate]:
        t = message_templates
        rows = await self._conn.execute(sa.select(t).order_by(t.c.name, t.c.language))
        return [_template(r) for r in rows]


class SqlServiceWindows:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def last_inbound_at(self, wa_ids: Sequence[str]) -> dict[str, datetime]:
        wanted = list(dict.fromkeys(wa_ids))
        if not wanted:
            return {}
        i = inbound_messages
        rows = await self._conn.execute(
            sa.select(i.c.wa_id, sa.func.max(i.c.sent_at))
            .where(i.c.wa_id.in_(wanted)).group_by(i.c.wa_id))
        return {wa_id: as_datetime(at) for wa_id, at in rows if at is not None}

    async def last_contact(self, student_id: int) -> tuple[str, str] | None:
        i = inbound_messages
        row = (await self._conn.execute(
            sa.select(i.c.wa_id, i.c.channel).where(i.c.student_id == student_id)
            .order_by(i.c.received_at.desc(), i.c.id.desc()).limit(1))).first()
        return None if row is None else (row.wa_id, row.channel)


class SqlHandoffAssignments:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def assign(self, student_id: int, staff: str, at: datetime) -> bool:
        h = handoffs
        result = await self._conn.execute(
            h.update().where(h.c.student_id == student_id, h.c.released_at.is_(None))
            .values(assigned_to=staff[:254], assigned_at=at, last_staff_at=at))
        return bool(result.rowcount)

    async def touch(self, student_id: int, at: datetime) -> None:
        h = handoffs
        await self._conn.execute(
            h.update().where(h.c.student_id == student_id, h.c.released_at.is_(None))
            .values(last_staff_at=at))

    async def assignee(self, student_id: int) -> str | None:
        h = handoffs
        value = await self._conn.scalar(
            sa.select(h.c.assigned_to)
            .where(h.c.student_id == student_id, h.c.released_at.is_(None)).limit(1))
        return str(value) if value is not None else None

    async def open_with_assignees(self) -> list[tuple[int, str, datetime, str | None]]:
        h = handoffs
        rows = await self._conn.execute(
            sa.select(h.c.student_id, h.c.wa_id, h.c.requested_at, h.c.assigned_to)
            .where(h.c.released_at.is_(None)).order_by(h.c.requested_at, h.c.id))
        return [(int(r.student_id), r.wa_id, r.requested_at, r.assigned_to) for r in rows]

    async def idle_since(self, cutoff: datetime) -> list[int]:
        h = handoffs
        rows = await self._conn.execute(
            sa.select(h.c.student_id)
            .where(h.c.released_at.is_(None),
                   sa.func.coalesce(h.c.last_staff_at, h.c.requested_at) < cutoff)
            .order_by(h.c.requested_at))
        return [int(r) for r in rows.scalars()]
