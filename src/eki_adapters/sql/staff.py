"""Staff accounts, personal API tokens, setup links and the audit log in SQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.tables import audit_log, staff_api_tokens, staff_members, staff_setup_links
from eki_domain.errors import DuplicateStaffEmail
from eki_domain.model.audit import AuditEntry, AuditFilter
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.staff import ApiToken, Role, SetupLink, StaffMember


def _member_values(member: StaffMember) -> dict[str, Any]:
    return {"email": member.email, "name": member.name, "role": member.role.value,
            "tags": json.dumps(sorted(member.tags), ensure_ascii=False),
            "active": member.active, "password_hash": member.password_hash,
            "totp_secret": member.totp_secret, "created_at": member.created_at,
            "last_sign_in_at": member.last_sign_in_at, "session_epoch": member.session_epoch}


def _member(row: sa.Row[Any]) -> StaffMember:
    return StaffMember(email=row.email, name=row.name, role=Role(row.role),
                       created_at=row.created_at, tags=frozenset(json.loads(row.tags)),
                       active=bool(row.active), password_hash=row.password_hash,
                       totp_secret=row.totp_secret, last_sign_in_at=row.last_sign_in_at,
                       session_epoch=row.session_epoch, id=row.id)


class SqlStaffDirectory:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, member: StaffMember) -> StaffMember:
        try:
            new_id = await self._conn.scalar(
                staff_members.insert().values(**_member_values(member))
                .returning(staff_members.c.id))
        except IntegrityError:  # a concurrent add of the same e-mail won the race
            raise DuplicateStaffEmail(member.email) from None
        return _member(await self._one(staff_members.c.id == new_id))

    async def save(self, member: StaffMember) -> None:
        if member.id is None:
            raise LookupError("a staff member without id cannot be saved")
        await self._conn.execute(staff_members.update()
                                 .where(staff_members.c.id == member.id)
                                 .values(**_member_values(member)))

    async def _one(self, where: sa.ColumnElement[bool]) -> sa.Row[Any]:
        return (await self._conn.execute(sa.select(staff_members).where(where))).one()

    async def get(self, staff_id: int) -> StaffMember | None:
        row = (await self._conn.execute(
            sa.select(staff_members).where(staff_members.c.id == staff_id))).first()
        return None if row is None else _member(row)

    async def get_by_email(self, email: str) -> StaffMember | None:
        row = (await self._conn.execute(
            sa.select(staff_members).where(staff_members.c.email == email))).first()
        return None if row is None else _member(row)

    async def list(self) -> Sequence[StaffMember]:
        rows = await self._conn.execute(sa.select(staff_members)
                                        .order_by(staff_members.c.email))
        return [_member(row) for row in rows]

    async def count_active_admins(self) -> int:
        s = staff_members
        count = await self._conn.scalar(sa.select(sa.func.count()).select_from(s).where(
            s.c.active.is_(True), s.c.role == Role.ADMIN.value))
        return int(count or 0)


def _token(row: sa.Row[Any]) -> ApiToken:
    return ApiToken(staff_id=row.staff_id, label=row.label, token_hash=row.token_hash,
                    created_at=row.created_at, expires_at=row.expires_at,
                    revoked_at=row.revoked_at, last_used_at=row.last_used_at, id=row.id)


class SqlApiTokens:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, token: ApiToken) -> ApiToken:
        t = staff_api_tokens
        new_id = await self._conn.scalar(t.insert().values(
            staff_id=token.staff_id, label=token.label, token_hash=token.token_hash,
            created_at=token.created_at, expires_at=token.expires_at,
            revoked_at=token.revoked_at, last_used_at=token.last_used_at).returning(t.c.id))
        found = await self.get(int(new_id))
        assert found is not None
        return found

    async def _first(self, where: sa.ColumnElement[bool]) -> ApiToken | None:
        row = (await self._conn.execute(sa.select(staff_api_tokens).where(where))).first()
        return None if row is None else _token(row)

    async def get(self, token_id: int) -> ApiToken | None:
        return await self._first(staff_api_tokens.c.id == token_id)

    async def find(self, token_hash: str) -> ApiToken | None:
        return await self._first(staff_api_tokens.c.token_hash == token_hash)

    async def list_for(self, staff_id: int) -> Sequence[ApiToken]:
        t = staff_api_tokens
        rows = await self._conn.execute(sa.select(t).where(t.c.staff_id == staff_id)
                                        .order_by(t.c.created_at.desc(), t.c.id.desc()))
        return [_token(row) for row in rows]

    async def revoke(self, token_id: int, at: datetime) -> bool:
        t = staff_api_tokens
        done = await self._conn.execute(t.update().where(
            t.c.id == token_id, t.c.revoked_at.is_(None)).values(revoked_at=at))
        return done.rowcount == 1

    async def touch(self, token_id: int, at: datetime) -> None:
        t = staff_api_tokens
        await self._conn.execute(t.update().where(t.c.id == token_id).values(last_used_at=at))


def _link(row: sa.Row[Any]) -> SetupLink:
    return SetupLink(staff_id=row.staff_id, token_hash=row.token_hash,
                     created_at=row.created_at, expires_at=row.expires_at, used_at=row.used_at,
                     id=row.id)


class SqlSetupLinks:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, link: SetupLink) -> SetupLink:
        s = staff_setup_links
        await self._conn.execute(s.update().where(
            s.c.staff_id == link.staff_id, s.c.used_at.is_(None)).values(used_at=link.created_at))
        new_id = await self._conn.scalar(s.insert().values(
            staff_id=link.staff_id, token_hash=link.token_hash, created_at=link.created_at,
            expires_at=link.expires_at, used_at=link.used_at).returning(s.c.id))
        row = (await self._conn.execute(sa.select(s).where(s.c.id == new_id))).one()
        return _link(row)

    async def find(self, token_hash: str) -> SetupLink | None:
        s = staff_setup_links
        row = (await self._conn.execute(sa.select(s).where(s.c.token_hash == token_hash))).first()
        return None if row is None else _link(row)

    async def use(self, link_id: int, at: datetime) -> bool:
        # One conditional UPDATE: of two concurrent uses, only one changes the row.
        s = staff_setup_links
        done = await self._conn.execute(s.update().where(
            s.c.id == link_id, s.c.used_at.is_(None)).values(used_at=at))
        return done.rowcount == 1


def _entry(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry(at=row.at, actor=row.actor, action=row.action,
                      target_type=row.target_type, target_id=row.target_id, ip=row.ip,
                      user_agent=row.user_agent, details=json.loads(row.details), id=row.id)


class SqlAuditLog:
    """Append and read; this class has no UPDATE or DELETE on purpose."""

    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def append(self, entry: AuditEntry) -> None:
        await self._conn.execute(audit_log.insert().values(
            at=entry.at, actor=entry.actor, action=str(entry.action),
            target_type=entry.target_type, target_id=entry.target_id, ip=entry.ip,
            user_agent=entry.user_agent,
            details=json.dumps(dict(entry.details), ensure_ascii=False, sort_keys=True)))

    async def list(self, where: AuditFilter, page: PageRequest) -> Page[AuditEntry]:
        a = audit_log
        conditions: list[sa.ColumnElement[bool]] = []
        for column, value in ((a.c.actor, where.actor), (a.c.action, where.action),
                              (a.c.target_type, where.target_type),
                              (a.c.target_id, where.target_id)):
            if value is not None:
                conditions.append(column == value)
        if where.since is not None:
            conditions.append(a.c.at >= where.since)
        if where.until is not None:
            conditions.append(a.c.at < where.until)
        total = await self._conn.scalar(
            sa.select(sa.func.count()).select_from(a).where(*conditions))
        rows = await self._conn.execute(
            sa.select(a).where(*conditions).order_by(a.c.at.desc(), a.c.id.desc())
            .limit(page.limit).offset(page.offset))
        return Page(items=tuple(_entry(row) for row in rows), total=int(total or 0),
                    limit=page.limit, offset=page.offset)

    async def times_of(self, action: str, *, since: datetime, target_id: str | None = None,
                       ip: str | None = None, limit: int = 100) -> Sequence[datetime]:
        a = audit_log
        query = sa.select(a.c.at).where(a.c.action == str(action), a.c.at >= since)
        if target_id is not None:
            query = query.where(a.c.target_id == target_id)
        if ip is not None:
            query = query.where(a.c.ip == ip)
        rows = await self._conn.scalars(query.order_by(a.c.at.desc()).limit(limit))
        return sorted(rows)
