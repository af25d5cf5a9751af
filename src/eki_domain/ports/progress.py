"""Ports for school data: the progress repository and the report cache."""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from eki_domain.model.progress import (
    AttendanceRow,
    EnrollmentRow,
    GradeRow,
    StudentRecordBook,
    WriteCounts,
)


class ProgressRepository(Protocol):
    async def record_book(self, student_id: int) -> StudentRecordBook:
        """The student's enrolled courses with their assessments, the student's results
        and attendance (courses the student has results or attendance in count as
        enrolled too)."""
        ...

    async def course_periods(self, names: Sequence[str]) -> dict[str, list[str | None]]:
        """The periods each course name exists in (names not stored are absent)."""
        ...

    async def write_grades(self, rows: Sequence[GradeRow], now: datetime) -> WriteCounts:
        """Upsert courses (by name and period), assessments (by course, title and period)
        and results (by assessment and student); counts are about results."""
        ...

    async def write_attendance(self, rows: Sequence[AttendanceRow], now: datetime
                               ) -> WriteCounts:
        """Upsert attendance by (student, course, date)."""
        ...

    async def write_enrollments(self, rows: Sequence[EnrollmentRow], now: datetime
                                ) -> WriteCounts:
        """Create courses as needed and enrol the students (existing enrolments are
        unchanged)."""
        ...


class ReportCache(Protocol):
    """A cache of computed reports, keyed by student and by the report variant.

    Coroutines, because the cache may be shared by several processes (Redis). A cache that
    cannot answer returns None from :meth:`get` (the report is computed again)."""

    async def get(self, student_id: int, variant: Hashable) -> object | None: ...

    async def put(self, student_id: int, variant: Hashable, value: object) -> None: ...

    async def invalidate(self, student_ids: Iterable[int]) -> None: ...

    async def clear(self) -> None: ...
