"""In-memory guardians (tests, library users), staged like the other repositories."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import attrs

from eki_adapters.memory.staging import Staged
from eki_domain.errors import DuplicateGuardianPhone
from eki_domain.model.codes import CodePurpose, VerificationCode
from eki_domain.model.guardian import Guardian, GuardianLink, SubjectMemory
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.student import Student, search_digits


@attrs.define
class GuardianState:
    guardians: dict[int, Guardian] = attrs.Factory(dict)
    links: dict[tuple[int, int], GuardianLink] = attrs.Factory(dict)
    memories: dict[int, SubjectMemory] = attrs.Factory(dict)
    codes: dict[int, VerificationCode] = attrs.Factory(dict)
    next_id: int = 1


def _matches(guardian: Guardian, text: str) -> bool:
    """The student listing's search rule, applied to a guardian."""
    text = text.strip()
    digits = search_digits(text)
    return not text or text.casefold() in guardian.name.casefold() or bool(
        digits and digits in guardian.phone.e164)


class InMemoryGuardians:
    def __init__(self, staged: Staged[GuardianState], *,
                 students: Callable[[], Mapping[int, Student]] = dict) -> None:
        self._staged = staged
        self._students = students

    async def add(self, guardian: Guardian) -> Guardian:
        state = self._staged.state
        if any(g.phone.e164 == guardian.phone.e164 for g in state.guardians.values()):
            raise DuplicateGuardianPhone(guardian.phone.e164)
        stored = attrs.evolve(guardian, id=state.next_id)
        state.next_id += 1
        state.guardians[stored.id or 0] = stored
        return attrs.evolve(stored)

    async def save(self, guardian: Guardian) -> None:
        state = self._staged.state
        if guardian.id is None or guardian.id not in state.guardians:
            raise LookupError(f"no guardian with id {guardian.id}")
        if any(g.phone.e164 == guardian.phone.e164 and g.id != guardian.id
               for g in state.guardians.values()):
            raise DuplicateGuardianPhone(guardian.phone.e164)
        state.guardians[guardian.id] = attrs.evolve(guardian)

    async def get(self, guardian_id: int) -> Guardian | None:
        found = self._staged.state.guardians.get(guardian_id)
        return None if found is None else attrs.evolve(found)

    async def find_by_phones(self, candidates: Sequence[str]) -> Guardian | None:
        by_phone = {g.phone.e164: g for g in self._staged.state.guardians.values()}
        for e164 in candidates:
            if e164 in by_phone:
                return attrs.evolve(by_phone[e164])
        return None

    async def phones_among(self, phones: Sequence[str]) -> Sequence[str]:
        wanted = set(phones)
        return [g.phone.e164 for g in self._staged.state.guardians.values()
                if g.active and g.phone.e164 in wanted]

    async def list(self) -> Sequence[Guardian]:
        found = sorted(self._staged.state.guardians.values(), key=lambda g: (g.name, g.id or 0))
        return [attrs.evolve(g) for g in found]

    async def page(self, *, search: str | None = None, student_id: int | None = None,
                   any_tags: frozenset[str] | None = None,
                   page: PageRequest = PageRequest(),  # noqa: B008 - frozen value object
                   ) -> Page[Guardian]:
        state = self._staged.state
        tags_of = {sid: s.tags for sid, s in self._students().items()}

        def keep(guardian: Guardian) -> bool:
            linked = [k.student_id for k in state.links.values()
                      if k.guardian_id == guardian.id]
            if student_id is not None and student_id not in linked:
                return False
            if any_tags is not None and not any(
                    any_tags & tags_of.get(sid, frozenset()) for sid in linked):
                return False
            return search is None or _matches(guardian, search)

        rows = sorted((g for g in state.guardians.values() if keep(g)),
                      key=lambda g: (g.name, g.id or 0))
        window = rows[page.offset:page.offset + page.limit]
        return Page(items=tuple(attrs.evolve(g) for g in window), total=len(rows),
                    limit=page.limit, offset=page.offset)

    async def link(self, link: GuardianLink) -> None:
        self._staged.state.links[(link.guardian_id, link.student_id)] = link

    async def unlink(self, guardian_id: int, student_id: int) -> bool:
        return self._staged.state.links.pop((guardian_id, student_id), None) is not None

    async def links_of_guardian(self, guardian_id: int) -> Sequence[GuardianLink]:
        found = [k for k in self._staged.state.links.values() if k.guardian_id == guardian_id]
        return sorted(found, key=lambda k: (k.priority, k.student_id))

    async def links_of_student(self, student_id: int) -> Sequence[GuardianLink]:
        found = [k for k in self._staged.state.links.values() if k.student_id == student_id]
        return sorted(found, key=lambda k: (k.priority, k.guardian_id))

    async def memory(self, guardian_id: int) -> SubjectMemory:
        return self._staged.state.memories.get(guardian_id, SubjectMemory())

    async def remember(self, guardian_id: int, memory: SubjectMemory) -> None:
        if guardian_id in self._staged.state.guardians:
            self._staged.state.memories[guardian_id] = memory


class InMemoryVerificationCodes:
    """Codes kept in the guardians' staged state."""

    def __init__(self, staged: Staged[GuardianState]) -> None:
        self._staged = staged

    async def issue(self, code: VerificationCode) -> VerificationCode:
        state = self._staged.state
        for other in state.codes.values():
            if (other.student_id, other.purpose) == (code.student_id, code.purpose) \
                    and other.used_at is None and other.revoked_at is None:
                other.revoked_at = code.created_at
        stored = attrs.evolve(code, id=len(state.codes) + 1)
        state.codes[stored.id or 0] = stored
        code.id = stored.id
        return code

    async def find(self, code_hash: str) -> VerificationCode | None:
        found = next((c for c in self._staged.state.codes.values()
                      if c.code_hash == code_hash), None)
        return None if found is None else attrs.evolve(found)

    async def redeem(self, code_id: int, at: datetime, by: str, *, approved: bool) -> bool:
        code = self._staged.state.codes.get(code_id)
        if code is None or code.used_at is not None or code.revoked_at is not None:
            return False
        code.used_at, code.used_by = at, by
        code.approved_at = at if approved else None
        return True

    async def approve(self, code_id: int, at: datetime) -> bool:
        code = self._staged.state.codes.get(code_id)
        if code is None or not code.pending_approval:
            return False
        code.approved_at = at
        return True

    async def reject(self, code_id: int, at: datetime) -> bool:
        code = self._staged.state.codes.get(code_id)
        if code is None or not code.pending_approval:
            return False
        code.revoked_at = at
        return True

    async def pending(self, purpose: CodePurpose | None = None) -> Sequence[VerificationCode]:
        found = [attrs.evolve(c) for c in self._staged.state.codes.values()
                 if c.pending_approval and (purpose is None or c.purpose is purpose)]
        return sorted(found, key=lambda c: (c.used_at, c.id or 0))
