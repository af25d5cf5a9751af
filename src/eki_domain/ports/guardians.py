"""The guardians port: families linked to students, and a guardian's conversation memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from eki_domain.model.guardian import Guardian, GuardianLink, SubjectMemory
from eki_domain.model.pagination import Page, PageRequest


class Guardians(Protocol):
    async def add(self, guardian: Guardian) -> Guardian:
        """Store a new guardian and return it with its id; raises
        :class:`~eki_domain.errors.DuplicateGuardianPhone` when the phone is taken."""
        ...

    async def save(self, guardian: Guardian) -> None:
        """Store name, phone and active of an existing guardian (by id)."""
        ...

    async def get(self, guardian_id: int) -> Guardian | None: ...

    async def find_by_phones(self, candidates: Sequence[str]) -> Guardian | None:
        """The guardian stored under the first of ``candidates`` (E.164) that matches."""
        ...

    async def phones_among(self, phones: Sequence[str]) -> Sequence[str]:
        """Which of ``phones`` (E.164) belong to an active guardian: one look-up for the
        senders a worker claims together."""
        ...

    async def list(self) -> Sequence[Guardian]:
        """Every guardian, by name."""
        ...

    async def page(self, *, search: str | None = None, student_id: int | None = None,
                   any_tags: frozenset[str] | None = None,
                   page: PageRequest = PageRequest(),  # noqa: B008 - frozen value object
                   ) -> Page[Guardian]:
        """Guardians by name (then id). ``search`` keeps names containing it
        (case-insensitive) or phones containing its digits (3 or more), like the student
        listing; ``student_id`` keeps the guardians of that student; ``any_tags`` (when
        not None) keeps guardians linked to a student carrying one of the tags (an empty
        set keeps none): a teacher's scope (issue 17)."""
        ...

    async def link(self, link: GuardianLink) -> None:
        """Create or replace the link of this guardian and student."""
        ...

    async def unlink(self, guardian_id: int, student_id: int) -> bool:
        """False when they were not linked."""
        ...

    async def links_of_guardian(self, guardian_id: int) -> Sequence[GuardianLink]:
        """By priority, then student id."""
        ...

    async def links_of_student(self, student_id: int) -> Sequence[GuardianLink]:
        """By priority, then guardian id."""
        ...

    async def memory(self, guardian_id: int) -> SubjectMemory:
        """The conversation memory (empty when nothing was chosen yet)."""
        ...

    async def remember(self, guardian_id: int, memory: SubjectMemory) -> None: ...
