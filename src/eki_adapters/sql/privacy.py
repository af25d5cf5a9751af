"""SQL adapters of the privacy ports: a person's data (from the registry in
``privacy_registry``), the retention purge and the register of data requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql import tables as t
from eki_adapters.sql.operations import _bucket, _day
from eki_adapters.sql.privacy_registry import PERSONAL_TABLES, Erase, PersonalTable
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.privacy import (
    ExportSection,
    Person,
    PrivacyRequest,
    RequestKind,
    TableCount,
)

#: Rows of one table an export lists at most (a person has far fewer; bounds the document).
EXPORT_MAX_ROWS = 50_000


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return None
    return value


def anonymous_student_values(reference: str) -> dict[str, Any]:
    """What a student record keeps under ``--keep-academic``: no name, no number."""
    token = reference.removeprefix("ref:")
    return {"name": f"Anónimo {token[:6]}", "phone": f"anon:{token[:11]}", "wa_id": None,
            "new_wa_id": None, "number_changed_at": None, "active": False}


class SqlPersonalData:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def find(self, phone: PhoneNumber) -> Person:
        forms = phone.match_candidates()
        student_ids = (await self._conn.scalars(
            sa.select(t.students.c.id).where(t.students.c.phone.in_(forms)))).all()
        guardian_ids = (await self._conn.scalars(
            sa.select(t.guardians.c.id).where(t.guardians.c.phone.in_(forms)))).all()
        return Person.of(phone, student_ids=[int(i) for i in student_ids],
                         guardian_ids=[int(i) for i in guardian_ids])

    async def export(self, person: Person) -> list[ExportSection]:
        sections = []
        for entry in PERSONAL_TABLES:
            where = entry.where(person)
            rows: list[dict[str, Any]] = []
            if where is not None:
                extra = entry.shown(entry.table) if entry.shown else {}
                columns = [*entry.table.c, *(v.label(k) for k, v in extra.items())]
                order = list(entry.table.primary_key.columns)
                # one row past the bound tells a cut table from one that fits exactly
                result = await self._conn.execute(sa.select(*columns).where(where)
                                                  .order_by(*order).limit(EXPORT_MAX_ROWS + 1))
                rows = [{k: _plain(v) for k, v in row._mapping.items()} for row in result]
            sections.append(ExportSection(name=entry.name, title=entry.title,
                                          explanation=entry.explanation,
                                          rows=tuple(rows[:EXPORT_MAX_ROWS]),
                                          truncated=len(rows) > EXPORT_MAX_ROWS))
        return sections

    async def count(self, person: Person) -> int:
        total = 0
        for entry in PERSONAL_TABLES:
            where = entry.where(person)
            if where is not None:
                total += int(await self._conn.scalar(
                    sa.select(sa.func.count()).select_from(entry.table).where(where)) or 0)
        return total

    async def erase(self, person: Person, *, keep_academic: bool,
                    reference: str) -> list[TableCount]:
        report = []
        for entry in reversed(PERSONAL_TABLES):
            where = entry.where(person)
            if where is None:
                report.append(TableCount(entry.name))
                continue
            report.append(await self._erase_one(entry, where, person, keep_academic,
                                                reference))
        report.reverse()
        return report

    async def _erase_one(self, entry: PersonalTable, where: sa.ColumnElement[bool],
                         person: Person, keep_academic: bool, reference: str) -> TableCount:
        table = entry.table
        if entry.erase is Erase.OWNED:
            return TableCount(entry.name)  # the owning port reports it
        if entry.erase is Erase.ACADEMIC and keep_academic:
            kept = await self._conn.scalar(sa.select(sa.func.count()).select_from(table)
                                           .where(where))
            return TableCount(entry.name, kept=int(kept or 0),
                              note="conservado bajo un id anónimo (--keep-academic)")
        if entry.erase is Erase.STUDENT and keep_academic:
            changed = 0
            for student_id in person.student_ids:
                values = anonymous_student_values(reference)
                if len(person.student_ids) > 1:  # phone is unique: one anonymous id each
                    values["phone"] = values["phone"][:-3] + f"{student_id % 1000:03d}"
                result = await self._conn.execute(
                    sa.update(table).where(table.c.id == student_id).values(**values))
                changed += result.rowcount or 0
            return TableCount(entry.name, anonymised=changed,
                              note="sin nombre ni teléfono; las notas siguen contando")
        if entry.erase is Erase.CLEAR:
            result = await self._conn.execute(sa.update(table).where(where).values(
                **dict.fromkeys(entry.scrub)))
            return TableCount(entry.name, anonymised=result.rowcount or 0,
                              note="registros de otras personas: se olvidó la referencia")
        if entry.erase is Erase.SCRUB:
            scrubbed: dict[str, Any] = {}
            for name in entry.scrub:
                column: Any = table.c[name]
                # "+57300…" before "57300…" before "300…": nothing of the number is left.
                for form in (*person.e164s, *person.digit_forms):
                    column = sa.func.replace(column, form, reference)
                scrubbed[name] = column
            result = await self._conn.execute(
                sa.update(table).where(where).values(**scrubbed))
            return TableCount(entry.name, kept=result.rowcount or 0,
                              note="conservado como prueba, sin el número (reemplazado por "
                                   "la referencia)")
        result = await self._conn.execute(sa.delete(table).where(where))
        return TableCount(entry.name, deleted=result.rowcount or 0)


# -- retention --------------------------------------------------------------------------------

#: (table, kind, time column): what the purge deletes, in this order.
_PURGED: tuple[tuple[sa.Table, str, str], ...] = (
    (t.webhook_events, "webhooks", "received_at"),
    (t.message_statuses, "webhooks", "received_at"),
    (t.inbound_messages, "messages", "received_at"),
    (t.outbound_messages, "messages", "created_at"),
    (t.llm_usage, "messages", "at"),
    (t.audit_log, "audit", "at"),
)
_BY_NAME = {table.name: (table, kind, column) for table, kind, column in _PURGED}
#: Outbound rows still to be sent are never purged.
_OPEN_OUTBOUND = ("queued", "sending")


class SqlRetention:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    def kinds(self) -> Sequence[tuple[str, str]]:
        return [(table.name, kind) for table, kind, _ in _PURGED]

    def _older(self, name: str, cutoff: datetime) -> tuple[sa.Table, sa.ColumnElement[bool]]:
        table, _kind, column = _BY_NAME[name]
        where = table.c[column] < cutoff
        if table is t.outbound_messages:
            where = sa.and_(where, table.c.status.not_in(_OPEN_OUTBOUND))
        return table, where

    async def count_older(self, table: str, cutoff: datetime) -> int:
        found, where = self._older(table, cutoff)
        return int(await self._conn.scalar(
            sa.select(sa.func.count()).select_from(found).where(where)) or 0)

    async def purge_older(self, table: str, cutoff: datetime, limit: int) -> int:
        found, where = self._older(table, cutoff)
        # The batch is the ``limit`` oldest ids: bounded by the last of them, so the roll-up
        # and the delete see the same rows without shipping 10,000 ids back and forth.
        batch = (sa.select(found.c.id).where(where).order_by(found.c.id).limit(limit)
                 .subquery())
        last = await self._conn.scalar(sa.select(sa.func.max(batch.c.id)))
        if last is None:
            return 0
        in_batch = sa.and_(where, found.c.id <= last)
        await self._roll_up(found, in_batch)
        result = await self._conn.execute(sa.delete(found).where(in_batch))
        return int(result.rowcount or 0)

    async def _roll_up(self, table: sa.Table, in_batch: sa.ColumnElement[bool]) -> None:
        """Add the rows about to go to the daily counts the dashboard's history keeps."""
        values: dict[str, Any]
        if table is t.inbound_messages:
            time_column, values = "received_at", {"inbound": sa.func.count()}
        elif table is t.outbound_messages:
            time_column, values = "created_at", {"outbound": sa.func.count()}
        elif table is t.llm_usage:
            time_column, values = "at", {
                "llm_calls": sa.func.count(),
                "llm_tokens": sa.func.coalesce(sa.func.sum(
                    table.c.prompt_tokens + table.c.completion_tokens), 0),
                "llm_cost_usd": sa.func.coalesce(sa.func.sum(table.c.cost_usd), 0.0)}
        else:
            return
        day = _bucket(table.c[time_column], self._dialect, "day").label("day")
        rows = await self._conn.execute(
            sa.select(day, *(v.label(k) for k, v in values.items()))
            .where(in_batch).group_by(day))
        d = t.daily_counts
        insert = pg_insert if self._dialect == "postgresql" else sqlite_insert
        for row in rows.all():
            added = {k: row._mapping[k] for k in values}
            statement = insert(d).values(day=_day(row.day), **added)
            statement = statement.on_conflict_do_update(
                index_elements=[d.c.day],
                set_={k: d.c[k] + statement.excluded[k] for k in values})
            await self._conn.execute(statement)


# -- the register of requests ------------------------------------------------------------------


def _request(row: Any) -> PrivacyRequest:
    return PrivacyRequest(kind=RequestKind(row.kind), phone=row.phone, reference=row.reference,
                          opened_at=row.opened_at, due_on=row.due_on, note=row.note,
                          closed_at=row.closed_at, closed_by=row.closed_by,
                          opened_by=row.opened_by, id=int(row.id))


class SqlPrivacyRequests:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection

    async def add(self, request: PrivacyRequest) -> PrivacyRequest:
        r = t.privacy_requests
        new_id = await self._conn.scalar(sa.insert(r).values(
            kind=request.kind.value, phone=request.phone, reference=request.reference,
            opened_at=request.opened_at, opened_by=request.opened_by[:254],
            due_on=request.due_on, note=request.note, closed_at=request.closed_at,
            closed_by=request.closed_by).returning(r.c.id))
        request.id = int(new_id or 0)
        return request

    async def get(self, request_id: int) -> PrivacyRequest | None:
        r = t.privacy_requests
        row = (await self._conn.execute(sa.select(r).where(r.c.id == request_id))).first()
        return None if row is None else _request(row)

    async def save(self, request: PrivacyRequest) -> None:
        r = t.privacy_requests
        await self._conn.execute(sa.update(r).where(r.c.id == request.id).values(
            phone=request.phone, note=request.note, closed_at=request.closed_at,
            closed_by=request.closed_by))

    async def list(self, *, open_only: bool = False, due_by: date | None = None,
                   limit: int = 500) -> list[PrivacyRequest]:
        r = t.privacy_requests
        query = sa.select(r)
        if open_only or due_by is not None:
            query = query.where(r.c.closed_at.is_(None))
        if due_by is not None:
            query = query.where(r.c.due_on <= due_by)
        rows = await self._conn.execute(
            query.order_by(r.c.closed_at.is_not(None), r.c.due_on, r.c.id)
            .limit(max(1, min(limit, 5000))))
        return [_request(row) for row in rows]

    async def forget_phone(self, phones: Sequence[str]) -> int:
        r = t.privacy_requests
        result = await self._conn.execute(
            sa.update(r).where(r.c.phone.in_(list(phones))).values(phone=None))
        return int(result.rowcount or 0)
