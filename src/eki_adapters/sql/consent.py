"""The consent ledger in SQL: rows are only ever inserted (docs/privacy.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.tables import consent_questions, consent_records
from eki_domain.model.consent import (
    ConsentDecision,
    ConsentMedium,
    ConsentRecord,
    ConsentRole,
)

_LATEST = sa.select(sa.func.max(consent_records.c.id)).where(
    consent_records.c.phone.in_(sa.bindparam("phones", expanding=True)),
    consent_records.c.policy_version == sa.bindparam("version"),
).group_by(consent_records.c.phone).scalar_subquery()
_CURRENT_AMONG = sa.select(consent_records.c.phone, consent_records.c.decision).where(
    consent_records.c.id.in_(_LATEST))


def _record(row: sa.Row[Any]) -> ConsentRecord:
    return ConsentRecord(
        phone=row.phone, role=ConsentRole(row.role), decision=ConsentDecision(row.decision),
        medium=ConsentMedium(row.medium), policy_version=row.policy_version,
        decided_at=row.decided_at, recorded_at=row.recorded_at, student_id=row.student_id,
        guardian_id=row.guardian_id, message_id=row.message_id, recorded_by=row.recorded_by,
        id=row.id)


class SqlConsents:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name

    async def append(self, *records: ConsentRecord) -> None:
        if not records:
            return
        await self._conn.execute(consent_records.insert(), [
            {"phone": r.phone, "role": str(r.role), "decision": str(r.decision),
             "medium": str(r.medium), "policy_version": r.policy_version,
             "decided_at": r.decided_at, "recorded_at": r.recorded_at,
             "student_id": r.student_id, "guardian_id": r.guardian_id,
             "message_id": r.message_id, "recorded_by": r.recorded_by}
            for r in records])

    async def current_among(self, phones: Sequence[str], version: str
                            ) -> dict[str, ConsentDecision]:
        wanted = list(dict.fromkeys(phones))
        if not wanted:
            return {}
        rows = (await self._conn.execute(
            _CURRENT_AMONG, {"phones": wanted, "version": version})).all()
        return {row.phone: ConsentDecision(row.decision) for row in rows}

    async def history(self, phone: str) -> list[ConsentRecord]:
        rows = (await self._conn.execute(
            sa.select(consent_records).where(consent_records.c.phone == phone)
            .order_by(consent_records.c.id))).all()
        return [_record(row) for row in rows]

    async def keep_question(self, phone: str, text: str, at: datetime) -> None:
        statement = upsert_into(self._dialect, consent_questions).values(
            phone=phone, question=text[:1000], asked_at=at)
        await self._conn.execute(statement.on_conflict_do_update(
            index_elements=["phone"],
            set_={"question": statement.excluded.question,
                  "asked_at": statement.excluded.asked_at}))

    async def kept_question(self, phone: str, since: datetime) -> str | None:
        found = await self._conn.scalar(sa.select(consent_questions.c.question).where(
            consent_questions.c.phone == phone, consent_questions.c.asked_at >= since))
        return None if found is None else str(found)

    async def forget_question(self, phone: str) -> None:
        await self._conn.execute(
            consent_questions.delete().where(consent_questions.c.phone == phone))
