"""Verification codes in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.tables import verification_codes as vc
from eki_domain.model.codes import CodePurpose, VerificationCode


def _code(row: sa.Row[Any]) -> VerificationCode:
    return VerificationCode(code_hash=row.code_hash, student_id=row.student_id,
                            purpose=CodePurpose(row.purpose), created_at=row.created_at,
                            expires_at=row.expires_at, used_at=row.used_at,
                            used_by=row.used_by, revoked_at=row.revoked_at,
                            approved_at=row.approved_at, id=row.id)


class SqlVerificationCodes:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def issue(self, code: VerificationCode) -> VerificationCode:
        await self._conn.execute(vc.update().where(
            vc.c.student_id == code.student_id, vc.c.purpose == code.purpose.value,
            vc.c.used_at.is_(None), vc.c.revoked_at.is_(None)).values(
            revoked_at=code.created_at))
        new_id = await self._conn.scalar(vc.insert().values(
            code_hash=code.code_hash, student_id=code.student_id, purpose=code.purpose.value,
            created_at=code.created_at, expires_at=code.expires_at).returning(vc.c.id))
        code.id = int(new_id or 0)
        return code

    async def find(self, code_hash: str) -> VerificationCode | None:
        row = (await self._conn.execute(sa.select(vc).where(vc.c.code_hash == code_hash))
               ).first()
        return None if row is None else _code(row)

    async def redeem(self, code_id: int, at: datetime, by: str, *, approved: bool) -> bool:
        result = await self._conn.execute(vc.update().where(
            vc.c.id == code_id, vc.c.used_at.is_(None), vc.c.revoked_at.is_(None)).values(
            used_at=at, used_by=by, approved_at=at if approved else None))
        return bool(result.rowcount)

    async def approve(self, code_id: int, at: datetime) -> bool:
        result = await self._conn.execute(vc.update().where(
            vc.c.id == code_id, vc.c.used_at.is_not(None), vc.c.approved_at.is_(None),
            vc.c.revoked_at.is_(None)).values(approved_at=at))
        return bool(result.rowcount)

    async def reject(self, code_id: int, at: datetime) -> bool:
        result = await self._conn.execute(vc.update().where(
            vc.c.id == code_id, vc.c.used_at.is_not(None), vc.c.approved_at.is_(None),
            vc.c.revoked_at.is_(None)).values(revoked_at=at))
        return bool(result.rowcount)

    async def pending(self, purpose: CodePurpose | None = None) -> Sequence[VerificationCode]:
        query = sa.select(vc).where(vc.c.used_at.is_not(None), vc.c.approved_at.is_(None),
                                    vc.c.revoked_at.is_(None))
        if purpose is not None:
            query = query.where(vc.c.purpose == purpose.value)
        rows = await self._conn.execute(query.order_by(vc.c.used_at, vc.c.id))
        return [_code(row) for row in rows]
