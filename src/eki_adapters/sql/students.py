"""``SqlStudentRepository``: students over SQLAlchemy Core (SQLite and PostgreSQL).

Rows become domain objects in :func:`student_from_row` and nowhere else.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from eki_adapters.sql.dialect import upsert_into
from eki_adapters.sql.tables import student_tags, students, tags
from eki_domain.errors import DuplicatePhone, InvalidPhoneNumber, StudentNotFound
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.phone import PhoneKind, PhoneNumber
from eki_domain.model.student import Student, search_digits

TAG_SEPARATOR = "|"  # tags may not contain it (see eki_domain.model.student.TAG_SEPARATORS)


def _tags_column(dialect_name: str) -> sa.Label[Any]:
    if dialect_name == "postgresql":
        agg = sa.func.string_agg(tags.c.name, TAG_SEPARATOR)
    else:
        agg = sa.func.group_concat(tags.c.name, TAG_SEPARATOR)
    return (
        sa.select(agg)
        .select_from(student_tags.join(tags, tags.c.id == student_tags.c.tag_id))
        .where(student_tags.c.student_id == students.c.id)
        .scalar_subquery()
        .label("tag_names")
    )


def _stored_phone(e164: str) -> PhoneNumber:
    """Phones were validated on the way in; a newer phonenumbers release must not
    make an already-registered student unreadable, so fall back to the raw value."""
    try:
        return PhoneNumber.parse(e164)
    except InvalidPhoneNumber:
        return PhoneNumber(e164=e164, region="ZZ", kind=PhoneKind.OTHER, warnings=())


def student_from_row(row: Any) -> Student:
    """Translate one ``students`` row (plus aggregated ``tag_names``) into the entity."""
    tag_names = row.tag_names
    return Student(
        id=row.id,
        name=row.name,
        phone=_stored_phone(row.phone),
        registered_at=row.registered_at,
        active=row.active,
        tags=frozenset(tag_names.split(TAG_SEPARATOR)) if tag_names else frozenset(),
        number_changed_at=row.number_changed_at,
        new_wa_id=row.new_wa_id,
    )


def _is_phone_conflict(exc: IntegrityError) -> bool:
    text = str(exc.orig).lower()
    return "phone" in text or "unique" in text


@functools.cache
def _student_select(dialect_name: str) -> sa.Select[Any]:
    """The base SELECT of a student with its tags, built once per dialect."""
    return sa.select(
        students.c.id,
        students.c.name,
        students.c.phone,
        students.c.active,
        students.c.registered_at,
        students.c.number_changed_at,
        students.c.new_wa_id,
        _tags_column(dialect_name),
    )


@functools.cache
def _by_phone(dialect_name: str) -> sa.Select[Any]:
    """Lookup by phone, the query of every inbound message: built once, so SQLAlchemy
    neither rebuilds the statement nor recomputes its cache key per call."""
    return _student_select(dialect_name).where(students.c.phone == sa.bindparam("phone"))


@functools.cache
def _by_phones(dialect_name: str) -> sa.Select[Any]:
    return _student_select(dialect_name).where(
        students.c.phone.in_(sa.bindparam("phones", expanding=True))
    )


@functools.cache
def _by_ids(dialect_name: str) -> sa.Select[Any]:
    return _student_select(dialect_name).where(
        students.c.id.in_(sa.bindparam("student_ids", expanding=True))
    )


@functools.cache
def _by_id(dialect_name: str) -> sa.Select[Any]:
    return _student_select(dialect_name).where(students.c.id == sa.bindparam("student_id"))


#: Ids per ``IN`` list of :meth:`SqlStudentRepository.get_many` (SQLite allows 32,766
#: parameters; PostgreSQL's planner prefers short lists).
_IDS_PER_QUERY = 1000


class SqlStudentRepository:
    def __init__(self, connection: AsyncConnection) -> None:
        self._conn = connection
        self._dialect = connection.dialect.name
        self._select = _student_select(self._dialect)

    async def add(self, student: Student) -> Student:
        values = {
            "name": student.name,
            "phone": student.phone.e164,
            "wa_id": student.phone.wa_id,
            "active": student.active,
            "registered_at": student.registered_at,
            "updated_at": datetime.now(UTC),
        }
        try:
            result = await self._conn.execute(
                students.insert().values(**values).returning(students.c.id)
            )
        except IntegrityError as exc:
            if _is_phone_conflict(exc):
                raise DuplicatePhone(student.phone.e164) from None
            raise
        student.id = int(result.scalar_one())
        await self._replace_tags(student.id, student.tags, existing=frozenset())
        return student

    async def save(self, student: Student) -> None:
        if student.id is None:
            raise StudentNotFound("un estudiante sin id")
        current = await self.get(student.id)
        if current is None:
            raise StudentNotFound(f"el id {student.id}")
        try:
            await self._conn.execute(
                students.update()
                .where(students.c.id == student.id)
                .values(
                    name=student.name,
                    phone=student.phone.e164,
                    wa_id=student.phone.wa_id
                    if student.phone != current.phone
                    else students.c.wa_id,
                    active=student.active,
                    number_changed_at=student.number_changed_at,
                    new_wa_id=student.new_wa_id,
                    updated_at=datetime.now(UTC),
                )
            )
        except IntegrityError as exc:
            if _is_phone_conflict(exc):
                raise DuplicatePhone(student.phone.e164) from None
            raise
        if student.tags != current.tags:
            await self._replace_tags(student.id, student.tags, existing=current.tags)

    async def _replace_tags(
        self, student_id: int, wanted: frozenset[str], *, existing: frozenset[str]
    ) -> None:
        removed = existing - wanted
        added = wanted - existing
        if removed:
            await self._conn.execute(
                student_tags.delete().where(
                    student_tags.c.student_id == student_id,
                    student_tags.c.tag_id.in_(sa.select(tags.c.id).where(tags.c.name.in_(removed))),
                )
            )
        if added:
            tag_ids = await self.ensure_tags(added)
            await self._conn.execute(
                student_tags.insert(),
                [{"student_id": student_id, "tag_id": tag_ids[name]} for name in sorted(added)],
            )

    async def ensure_tags(self, names: Iterable[str]) -> dict[str, int]:
        """Create missing tags; return the id of every name."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        await self._conn.execute(
            upsert_into(self._dialect, tags).on_conflict_do_nothing(index_elements=["name"]),
            [{"name": name} for name in wanted],
        )
        rows = await self._conn.execute(
            sa.select(tags.c.name, tags.c.id).where(tags.c.name.in_(wanted))
        )
        return {name: int(tag_id) for name, tag_id in rows}

    async def get(self, student_id: int) -> Student | None:
        row = (await self._conn.execute(_by_id(self._dialect), {"student_id": student_id})).first()
        return None if row is None else student_from_row(row)

    async def get_many(self, student_ids: Sequence[int]) -> dict[int, Student]:
        wanted = list(dict.fromkeys(student_ids))
        found: dict[int, Student] = {}
        for start in range(0, len(wanted), _IDS_PER_QUERY):  # bounded IN lists
            rows = await self._conn.execute(
                _by_ids(self._dialect), {"student_ids": wanted[start:start + _IDS_PER_QUERY]})
            for row in rows:
                student = student_from_row(row)
                found[row.id] = student
        return found

    async def get_by_phone(self, e164: str) -> Student | None:
        row = (await self._conn.execute(_by_phone(self._dialect), {"phone": e164})).first()
        return None if row is None else student_from_row(row)

    async def find_by_phones(self, candidates: Sequence[str]) -> Student | None:
        if not candidates:
            return None
        if len(candidates) == 1:
            return await self.get_by_phone(candidates[0])
        rows = (
            await self._conn.execute(_by_phones(self._dialect), {"phones": list(candidates)})
        ).all()
        by_phone = {row.phone: row for row in rows}
        for e164 in candidates:
            if e164 in by_phone:
                return student_from_row(by_phone[e164])
        return None

    async def find_each_by_phones(
        self, candidate_lists: Sequence[Sequence[str]]
    ) -> list[Student | None]:
        wanted = list(dict.fromkeys(e164 for candidates in candidate_lists
                                    for e164 in candidates))
        if not wanted:
            return [None] * len(candidate_lists)
        rows = (await self._conn.execute(_by_phones(self._dialect), {"phones": wanted})).all()
        by_phone = {row.phone: row for row in rows}
        found: list[Student | None] = []
        for candidates in candidate_lists:
            row = next((by_phone[e164] for e164 in candidates if e164 in by_phone), None)
            found.append(None if row is None else student_from_row(row))
        return found

    def _filters(self, tag: str | None, active: bool | None,
                 search: str | None = None) -> list[sa.ColumnElement[bool]]:
        filters: list[sa.ColumnElement[bool]] = []
        if search is not None and search.strip():
            text = search.strip()
            digits = search_digits(text)
            matches = [students.c.name.icontains(text, autoescape=True)]
            if digits:
                matches.append(students.c.phone.contains(digits, autoescape=True))
            filters.append(sa.or_(*matches))
        if active is not None:
            filters.append(students.c.active.is_(active))
        if tag is not None:
            filters.append(
                sa.exists()
                .where(student_tags.c.student_id == students.c.id)
                .where(
                    student_tags.c.tag_id
                    == sa.select(tags.c.id).where(tags.c.name == tag).scalar_subquery()
                )
            )
        return filters

    async def list(
        self,
        *,
        tag: str | None = None,
        active: bool | None = None,
        page: PageRequest = PageRequest(),  # noqa: B008
        search: str | None = None,
        any_tags: frozenset[str] | None = None,
    ) -> Page[Student]:
        filters = self._filters(tag, active, search)
        if any_tags is not None:
            filters.append(
                sa.exists()
                .where(student_tags.c.student_id == students.c.id)
                .where(student_tags.c.tag_id.in_(
                    sa.select(tags.c.id).where(tags.c.name.in_(sorted(any_tags)))))
                if any_tags else sa.false())
        rows = await self._conn.execute(
            self._select.where(*filters)
            .order_by(students.c.registered_at.desc(), students.c.id.desc())
            .limit(page.limit)
            .offset(page.offset)
        )
        items = tuple(student_from_row(row) for row in rows)
        total = await self._conn.scalar(
            sa.select(sa.func.count()).select_from(students).where(*filters)
        )
        return Page(items=items, total=int(total or 0), limit=page.limit, offset=page.offset)

    async def count(self, *, active: bool | None = None) -> int:
        total = await self._conn.scalar(
            sa.select(sa.func.count()).select_from(students).where(*self._filters(None, active))
        )
        return int(total or 0)
