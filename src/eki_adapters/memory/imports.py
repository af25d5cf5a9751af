"""In-memory roster bulk access and import history."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime

from eki_adapters.memory.students import InMemoryStudentRepository
from eki_domain.model.imports import ImportReport
from eki_domain.model.roster import ExistingStudent, RosterPlan
from eki_domain.model.student import Student
from eki_domain.ports.imports import FailedRows, ImportRecord


class InMemoryRosterRepository:
    def __init__(self, students: InMemoryStudentRepository) -> None:
        self._students = students

    async def existing(self, phones: Sequence[str]) -> dict[str, ExistingStudent]:
        found: dict[str, ExistingStudent] = {}
        for phone in phones:
            student = await self._students.get_by_phone(phone)
            if student is not None and student.id is not None:
                found[phone] = _existing(student.id, student)
        return found

    async def existing_all(self, at_most: int) -> dict[str, ExistingStudent] | None:
        students = self._students.current()
        if len(students) > at_most:
            return None
        return {s.phone.e164: _existing(s.id, s) for s in students if s.id is not None}

    async def write(self, plan: RosterPlan, now: datetime) -> None:
        # Through Student's own methods, so its invariants hold here too.
        for change in plan.creates:
            await self._students.add(Student.register(
                change.name, change.phone, registered_at=now, tags=change.tags,
                active=change.active))
        for change in plan.updates:
            assert change.student_id is not None
            student = await self._students.get(change.student_id)
            assert student is not None
            student.rename(change.name)
            if change.active:
                student.activate()
            else:
                student.deactivate()
            student.set_tags(change.tags)
            await self._students.save(student)


class InMemoryImportRepository:
    """Units of work over one InMemoryStore are serialised, so imports never overlap."""

    def __init__(self, history: list[ImportRecord], failed: dict[int, FailedRows],
                 ids: itertools.count[int]) -> None:
        self._history = history
        self._failed = failed
        self._ids = ids
        self._staged: list[tuple[ImportRecord, FailedRows | None]] = []

    async def try_lock(self, kind: str) -> bool:
        return True

    async def record(
        self, report: ImportReport, finished_at: datetime, failed: FailedRows | None = None
    ) -> int:
        record = ImportRecord(
            id=next(self._ids), kind=report.kind, file=report.file, sha256=report.sha256,
            mode=str(report.mode), dry_run=report.dry_run, status=str(report.status),
            rows_read=report.rows_read, created=report.created, updated=report.updated,
            unchanged=report.unchanged, errors=report.errors, warnings=report.warnings,
            duration_ms=report.duration_ms, message=report.message, finished_at=finished_at,
        )
        self._staged.append((record, failed))
        return record.id

    async def failed_rows(self, job_id: int) -> FailedRows | None:
        staged = {record.id: failed for record, failed in self._staged}
        return staged[job_id] if job_id in staged else self._failed.get(job_id)

    async def recent(self, *, kind: str | None = None, limit: int = 20) -> list[ImportRecord]:
        everything = [*self._history, *(record for record, _ in self._staged)]
        rows = [r for r in everything if kind is None or r.kind == kind]
        return sorted(rows, key=lambda r: r.id, reverse=True)[:limit]

    def apply(self) -> None:
        for record, failed in self._staged:
            self._history.append(record)
            if failed is not None:
                self._failed[record.id] = failed
        self._staged.clear()

    def discard(self) -> None:
        self._staged.clear()


def _existing(student_id: int, student: Student) -> ExistingStudent:
    """What an import can change of a stored student."""
    return ExistingStudent(id=student_id, name=student.name, active=student.active,
                           tags=student.tags)
