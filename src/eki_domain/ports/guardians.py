"""The guardians port: families linked to students, and a guardian's conversation memory."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from eki_domain.model.guardian import Guardian, GuardianLink, SubjectMemory


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
