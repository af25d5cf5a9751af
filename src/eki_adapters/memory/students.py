"""Students kept in a dict; changes are staged until the unit of work commits."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from eki_adapters.memory.store import StoreState
from eki_domain.errors import DuplicatePhone, StudentNotFound
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.student import Student, matches_search


def _copy(student: Student) -> Student:
    return attrs.evolve(student)


class InMemoryStudentRepository:
    def __init__(self, store: StoreState) -> None:
        self._store = store
        self._staged: dict[int, Student] = {}

    # -- staging -----------------------------------------------------------------
    def _current(self) -> dict[int, Student]:
        if not self._staged:
            return self._store.students
        merged = dict(self._store.students)
        merged.update(self._staged)
        return merged

    def current(self) -> list[Student]:
        """Every student as this unit of work sees it (not copies: read them only)."""
        return list(self._current().values())

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

    async def get_many(self, student_ids: Sequence[int]) -> dict[int, Student]:
        current = self._current()
        return {sid: _copy(current[sid]) for sid in dict.fromkeys(student_ids)
                if sid in current}

    async def get_by_phone(self, e164: str) -> Student | None:
        owner = self._phone_owner(e164)
        return None if owner is None else await self.get(owner)

    async def find_by_phones(self, candidates: Sequence[str]) -> Student | None:
        for e164 in candidates:
            found = await self.get_by_phone(e164)
            if found is not None:
                return found
        return None

    async def find_each_by_phones(
        self, candidate_lists: Sequence[Sequence[str]]
    ) -> list[Student | None]:
        return [await self.find_by_phones(candidates) for candidates in candidate_lists]

    async def list(
        self,
        *,
        tag: str | None = None,
        active: bool | None = None,
        page: PageRequest = PageRequest(),  # noqa: B008
        search: str | None = None,
        any_tags: frozenset[str] | None = None,
    ) -> Page[Student]:
        rows = [
            s
            for s in self._current().values()
            if (tag is None or tag in s.tags) and (active is None or s.active == active)
            and (search is None or matches_search(s, search))
            and (any_tags is None or bool(any_tags.intersection(s.tags)))
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
