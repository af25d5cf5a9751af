"""Students kept in a dict, with a unit of work that really rolls back.

Changes made inside ``async with uow:`` are staged and only reach the shared
:class:`InMemoryStore` on ``commit()``; an asyncio lock serialises writers so
two concurrent units of work behave like two database transactions would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from types import TracebackType
from typing import Self

import attrs

from eki_domain.errors import DuplicatePhone, StudentNotFound
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.student import Student


class InMemoryStore:
    """The committed state shared by every unit of work made from it."""

    def __init__(self) -> None:
        self.students: dict[int, Student] = {}
        self.by_phone: dict[str, int] = {}
        self.next_id = 1
        self.lock = asyncio.Lock()

    def uow(self) -> InMemoryUnitOfWork:
        """A unit-of-work factory: pass ``store.uow`` where a factory is expected."""
        return InMemoryUnitOfWork(self)


def _copy(student: Student) -> Student:
    return attrs.evolve(student)


class InMemoryStudentRepository:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self._staged: dict[int, Student] = {}

    # -- staging -----------------------------------------------------------------
    def _current(self) -> dict[int, Student]:
        if not self._staged:
            return self._store.students
        merged = dict(self._store.students)
        merged.update(self._staged)
        return merged

    def _phone_owner(self, e164: str) -> int | None:
        for sid, staged in self._staged.items():
            if staged.phone.e164 == e164:
                return sid
        owner = self._store.by_phone.get(e164)
        if owner is not None and owner in self._staged and self._staged[owner].phone.e164 != e164:
            return None
        return owner

    def apply(self) -> None:
        store = self._store
        for sid, student in self._staged.items():
            old = store.students.get(sid)
            if old is not None:
                store.by_phone.pop(old.phone.e164, None)
            store.students[sid] = _copy(student)
            store.by_phone[student.phone.e164] = sid
        self._staged.clear()

    def discard(self) -> None:
        self._staged.clear()

    # -- the port ----------------------------------------------------------------
    async def add(self, student: Student) -> Student:
        if self._phone_owner(student.phone.e164) is not None:
            raise DuplicatePhone(student.phone.e164)
        student.id = self._store.next_id
        self._store.next_id += 1
        self._staged[student.id] = _copy(student)
        return student

    async def save(self, student: Student) -> None:
        if student.id is None or student.id not in self._current():
            raise StudentNotFound(f"el id {student.id}")
        owner = self._phone_owner(student.phone.e164)
        if owner is not None and owner != student.id:
            raise DuplicatePhone(student.phone.e164)
        self._staged[student.id] = _copy(student)

    async def get(self, student_id: int) -> Student | None:
        found = self._current().get(student_id)
        return None if found is None else _copy(found)

    async def get_by_phone(self, e164: str) -> Student | None:
        owner = self._phone_owner(e164)
        return None if owner is None else await self.get(owner)

    async def find_by_phones(self, candidates: Sequence[str]) -> Student | None:
        for e164 in candidates:
            found = await self.get_by_phone(e164)
            if found is not None:
                return found
        return None

    async def list(
        self,
        *,
        tag: str | None = None,
        active: bool | None = None,
        page: PageRequest = PageRequest(),  # noqa: B008
    ) -> Page[Student]:
        rows = [
            s
            for s in self._current().values()
            if (tag is None or tag in s.tags) and (active is None or s.active == active)
        ]
        rows.sort(key=lambda s: (s.registered_at, s.id or 0), reverse=True)
        window = rows[page.offset : page.offset + page.limit]
        return Page(
            items=tuple(_copy(s) for s in window),
            total=len(rows),
            limit=page.limit,
            offset=page.offset,
        )

    async def count(self, *, active: bool | None = None) -> int:
        return sum(1 for s in self._current().values() if active is None or s.active == active)


class InMemoryUnitOfWork:
    def __init__(self, store: InMemoryStore) -> None:
        self._store = store
        self.students = InMemoryStudentRepository(store)

    async def __aenter__(self) -> Self:
        await self._store.lock.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self.rollback()  # whatever was staged after the last commit
        finally:
            self._store.lock.release()

    async def commit(self) -> None:
        self.students.apply()

    async def rollback(self) -> None:
        self.students.discard()
