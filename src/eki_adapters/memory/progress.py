"""In-memory school data with the same semantics and counts as the SQL adapter."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import attrs

from eki_adapters.memory.staging import Staged
from eki_domain.model.progress import (
    Assessment,
    AttendanceRecord,
    AttendanceRow,
    AttendanceStatus,
    Course,
    EnrollmentRow,
    GradeRow,
    Result,
    ResultStatus,
    StudentRecordBook,
    WriteCounts,
)


@attrs.define
class SchoolState:
    courses: dict[tuple[str, str], Course] = attrs.Factory(dict)  # (name, period)
    assessments: dict[tuple[int, str, str], Assessment] = attrs.Factory(dict)
    results: dict[tuple[int, int], tuple[float | None, ResultStatus]] = attrs.Factory(dict)
    attendance: dict[tuple[int, int, date], AttendanceStatus] = attrs.Factory(dict)
    enrollments: set[tuple[int, int]] = attrs.Factory(set)
    #: When each result / attendance row was last created or changed (SQL's updated_at).
    results_at: dict[tuple[int, int], datetime] = attrs.Factory(dict)
    attendance_at: dict[tuple[int, int, date], datetime] = attrs.Factory(dict)
    next_id: int = 1

    def new_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    def course(self, name: str, period: str | None, code: str | None = None) -> Course:
        key = (name, period or "")
        found = self.courses.get(key)
        if found is None:
            found = self.courses[key] = Course(id=self.new_id(), name=name, code=code,
                                               period=period or None)
        elif code and found.code != code:
            found = self.courses[key] = attrs.evolve(found, code=code)
        return found


class InMemoryProgressRepository:
    def __init__(self, staged: Staged[SchoolState]) -> None:
        self._s = staged

    async def record_books(self, student_ids: Sequence[int]) -> dict[int, StudentRecordBook]:
        return {sid: await self.record_book(sid) for sid in dict.fromkeys(student_ids)}

    async def record_book(self, student_id: int) -> StudentRecordBook:
        state = self._s.state
        by_id = {c.id: c for c in state.courses.values()}
        assessments_by_id = {a.id: a for a in state.assessments.values()}
        course_ids = {cid for sid, cid in state.enrollments if sid == student_id}
        course_ids |= {assessments_by_id[aid].course_id
                       for (aid, sid) in state.results if sid == student_id}
        course_ids |= {cid for (sid, cid, _day) in state.attendance if sid == student_id}
        return StudentRecordBook(
            courses=tuple(sorted((by_id[c] for c in course_ids),
                                 key=lambda c: (c.name, c.period or ""))),
            assessments=tuple(sorted((a for a in state.assessments.values()
                                      if a.course_id in course_ids), key=lambda a: a.id)),
            results=tuple(Result(assessment_id=aid, status=status, score=score)
                          for (aid, sid), (score, status) in state.results.items()
                          if sid == student_id),
            attendance=tuple(AttendanceRecord(course_id=cid, day=day, status=status)
                             for (sid, cid, day), status in state.attendance.items()
                             if sid == student_id),
        )

    async def course_periods(self, names: Sequence[str]) -> dict[str, list[str | None]]:
        wanted = set(names)
        found: dict[str, list[str | None]] = {}
        for course in self._s.state.courses.values():
            if course.name in wanted:
                found.setdefault(course.name, []).append(course.period)
        return found

    async def write_grades(self, rows: Sequence[GradeRow], now: datetime) -> WriteCounts:
        state = self._s.state
        created = updated = unchanged = 0
        for row in rows:
            course = state.course(row.course, row.period)
            state.enrollments.add((row.student_id, course.id))
            key = (course.id, row.assessment, row.period or "")
            assessment = state.assessments.get(key)
            if assessment is None:
                assessment = Assessment(id=state.new_id(), course_id=course.id,
                                        title=row.assessment, max_score=row.max_score,
                                        weight=row.weight, due_date=row.due_date,
                                        period=row.period or None)
            else:
                assessment = assessment._replace(
                    max_score=row.max_score if row.max_score is not None
                    else assessment.max_score,
                    weight=row.weight if row.weight is not None else assessment.weight,
                    due_date=row.due_date or assessment.due_date)
            state.assessments[key] = assessment
            result_key = (assessment.id, row.student_id)
            value = (row.score, row.status)
            previous = state.results.get(result_key)
            if previous is None:
                created += 1
            elif previous != value:
                updated += 1
            else:
                unchanged += 1
            if previous != value:
                state.results_at[result_key] = now
            state.results[result_key] = value
        return WriteCounts(created, updated, unchanged)

    async def write_attendance(self, rows: Sequence[AttendanceRow], now: datetime
                               ) -> WriteCounts:
        state = self._s.state
        created = updated = unchanged = 0
        for row in rows:
            course = state.course(row.course, row.period)
            state.enrollments.add((row.student_id, course.id))
            key = (row.student_id, course.id, row.day)
            previous = state.attendance.get(key)
            if previous is None:
                created += 1
            elif previous != row.status:
                updated += 1
            else:
                unchanged += 1
            if previous != row.status:
                state.attendance_at[key] = now
            state.attendance[key] = row.status
        return WriteCounts(created, updated, unchanged)

    async def write_enrollments(self, rows: Sequence[EnrollmentRow], now: datetime
                                ) -> WriteCounts:
        state = self._s.state
        created = 0
        for row in rows:
            course = state.course(row.course, row.period, row.code)
            if (row.student_id, course.id) not in state.enrollments:
                state.enrollments.add((row.student_id, course.id))
                created += 1
        return WriteCounts(created=created, updated=0, unchanged=len(rows) - created)
