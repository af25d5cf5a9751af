"""Guardians, their links to students and their conversation memory, in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.tables import guardian_links, guardians, student_tags, tags
from eki_domain.errors import DuplicateGuardianPhone, InvalidPhoneNumber
from eki_domain.model.guardian import Guardian, GuardianLink, Relationship, SubjectMemory
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.phone import PhoneKind, PhoneNumber
from eki_domain.model.student import search_digits


def _stored_phone(e164: str) -> PhoneNumber:
    try:
        return PhoneNumber.parse(e164)
    except InvalidPhoneNumber:  # a newer phonenumbers release must not hide a guardian
        return PhoneNumber(e164=e164, region="ZZ", kind=PhoneKind.OTHER, warnings=())


def _guardian(row: sa.Row[Any]) -> Guardian:
    return Guardian(name=row.name, phone=_stored_phone(row.phone), created_at=row.created_at,
                    active=bool(row.active), id=row.id)


def _link(row: sa.Row[Any]) -> GuardianLink:
    return GuardianLink(guardian_id=row.guardian_id, student_id=row.student_id,
                        relationship=Relationship(row.relationship),
                        may_see_grades=bool(row.may_see_grades),
                        may_receive_alerts=bool(row.may_receive_alerts), priority=row.priority)


class SqlGuardians:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, guardian: Guardian) -> Guardian:
        try:
            new_id = await self._conn.scalar(guardians.insert().values(
                name=guardian.name, phone=guardian.phone.e164, active=guardian.active,
                created_at=guardian.created_at).returning(guardians.c.id))
        except IntegrityError:
            raise DuplicateGuardianPhone(guardian.phone.e164) from None
        stored = await self.get(int(new_id or 0))
        assert stored is not None
        return stored

    async def save(self, guardian: Guardian) -> None:
        if guardian.id is None:
            raise LookupError("a guardian without id cannot be saved")
        try:
            await self._conn.execute(guardians.update().where(guardians.c.id == guardian.id)
                                     .values(name=guardian.name, phone=guardian.phone.e164,
                                             active=guardian.active))
        except IntegrityError:
            raise DuplicateGuardianPhone(guardian.phone.e164) from None

    async def get(self, guardian_id: int) -> Guardian | None:
        row = (await self._conn.execute(
            sa.select(guardians).where(guardians.c.id == guardian_id))).first()
        return None if row is None else _guardian(row)

    async def find_by_phones(self, candidates: Sequence[str]) -> Guardian | None:
        if not candidates:
            return None
        rows = (await self._conn.execute(
            sa.select(guardians).where(guardians.c.phone.in_(list(candidates))))).all()
        by_phone = {row.phone: row for row in rows}
        for e164 in candidates:
            if e164 in by_phone:
                return _guardian(by_phone[e164])
        return None

    async def phones_among(self, phones: Sequence[str]) -> Sequence[str]:
        if not phones:
            return []
        rows = await self._conn.scalars(sa.select(guardians.c.phone).where(
            guardians.c.phone.in_(sorted(set(phones))), guardians.c.active.is_(True)))
        return list(rows)

    async def list(self) -> Sequence[Guardian]:
        rows = await self._conn.execute(sa.select(guardians)
                                        .order_by(guardians.c.name, guardians.c.id))
        return [_guardian(row) for row in rows]

    async def page(self, *, search: str | None = None, student_id: int | None = None,
                   any_tags: frozenset[str] | None = None,
                   page: PageRequest = PageRequest(),  # noqa: B008 - frozen value object
                   ) -> Page[Guardian]:
        filters: list[sa.ColumnElement[bool]] = []
        if search is not None and search.strip():
            text = search.strip()
            digits = search_digits(text)
            matches = [guardians.c.name.icontains(text, autoescape=True)]
            if digits:
                matches.append(guardians.c.phone.contains(digits, autoescape=True))
            filters.append(sa.or_(*matches))
        if student_id is not None:
            filters.append(sa.exists().where(guardian_links.c.guardian_id == guardians.c.id,
                                             guardian_links.c.student_id == student_id))
        if any_tags is not None:
            filters.append(sa.exists().where(
                guardian_links.c.guardian_id == guardians.c.id,
                student_tags.c.student_id == guardian_links.c.student_id,
                student_tags.c.tag_id.in_(
                    sa.select(tags.c.id).where(tags.c.name.in_(sorted(any_tags)))))
                if any_tags else sa.false())
        rows = await self._conn.execute(
            sa.select(guardians).where(*filters).order_by(guardians.c.name, guardians.c.id)
            .limit(page.limit).offset(page.offset))
        items = tuple(_guardian(row) for row in rows)
        total = await self._conn.scalar(
            sa.select(sa.func.count()).select_from(guardians).where(*filters))
        return Page(items=items, total=int(total or 0), limit=page.limit, offset=page.offset)

    async def link(self, link: GuardianLink) -> None:
        values = {"relationship": link.relationship.value,
                  "may_see_grades": link.may_see_grades,
                  "may_receive_alerts": link.may_receive_alerts, "priority": link.priority}
        where = sa.and_(guardian_links.c.guardian_id == link.guardian_id,
                        guardian_links.c.student_id == link.student_id)
        updated = await self._conn.execute(guardian_links.update().where(where).values(**values))
        if not updated.rowcount:
            await self._conn.execute(guardian_links.insert().values(
                guardian_id=link.guardian_id, student_id=link.student_id, **values))

    async def unlink(self, guardian_id: int, student_id: int) -> bool:
        result = await self._conn.execute(guardian_links.delete().where(
            guardian_links.c.guardian_id == guardian_id,
            guardian_links.c.student_id == student_id))
        return bool(result.rowcount)

    async def links_of_guardian(self, guardian_id: int) -> Sequence[GuardianLink]:
        rows = await self._conn.execute(
            sa.select(guardian_links).where(guardian_links.c.guardian_id == guardian_id)
            .order_by(guardian_links.c.priority, guardian_links.c.student_id))
        return [_link(row) for row in rows]

    async def links_of_student(self, student_id: int) -> Sequence[GuardianLink]:
        rows = await self._conn.execute(
            sa.select(guardian_links).where(guardian_links.c.student_id == student_id)
            .order_by(guardian_links.c.priority, guardian_links.c.guardian_id))
        return [_link(row) for row in rows]

    async def memory(self, guardian_id: int) -> SubjectMemory:
        row = (await self._conn.execute(
            sa.select(guardians.c.subject_student_id, guardians.c.subject_chosen_at,
                      guardians.c.question, guardians.c.question_at)
            .where(guardians.c.id == guardian_id))).first()
        if row is None:
            return SubjectMemory()
        return SubjectMemory(student_id=row.subject_student_id, chosen_at=row.subject_chosen_at,
                             question=row.question, asked_at=row.question_at)

    async def remember(self, guardian_id: int, memory: SubjectMemory) -> None:
        await self._conn.execute(guardians.update().where(guardians.c.id == guardian_id).values(
            subject_student_id=memory.student_id, subject_chosen_at=memory.chosen_at,
            question=None if memory.question is None else memory.question[:1000],
            question_at=memory.asked_at))
