"""Importing grades, attendance and enrolments (`eki progress import`).

The same flow, modes, report and history as the student import: see
:mod:`eki_domain.services.imports`. Phones must belong to registered students;
any other phone is a row error. Reports of the students touched are invalidated
once the import is committed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from eki_domain.model.events import GradesImported
from eki_domain.model.gradebook import (
    ProgressKind,
    ProgressValidation,
    ValidAttendance,
    ValidEnrollment,
    ValidGrade,
    ValidRow,
    validate_progress_rows,
)
from eki_domain.model.imports import ImportMode, ImportStatus, RowIssue, Severity, Sheet
from eki_domain.model.progress import (
    DEFAULT_SCALE,
    AttendanceRow,
    EnrollmentRow,
    GradeRow,
    GradingScale,
    WriteCounts,
)
from eki_domain.ports.clock import Clock
from eki_domain.ports.repositories import UnitOfWork, UnitOfWorkFactory
from eki_domain.ports.telemetry import NO_TELEMETRY, Telemetry
from eki_domain.services.imports import (
    ImportResult,
    ImportService,
    Progress,
    Resolution,
    Validation,
)
from eki_domain.services.messagebus import MessageBus

_KIND_LABEL = {ProgressKind.GRADES: "Notas", ProgressKind.ATTENDANCE: "Asistencia",
               ProgressKind.ENROLLMENTS: "Matrículas"}


def _label(validation: Validation) -> str:
    assert isinstance(validation, ProgressValidation)
    return _KIND_LABEL[validation.kind]


class ProgressImportService(ImportService):
    kind = "progress"

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, default_region: str = "CO",
                 scale: GradingScale = DEFAULT_SCALE,
                 on_change: Callable[[Iterable[int]], Awaitable[None] | None] | None = None,
                 telemetry: Telemetry = NO_TELEMETRY, bus: MessageBus | None = None) -> None:
        super().__init__(uow, clock, default_region=default_region, telemetry=telemetry,
                         bus=bus)
        self._scale = scale
        if on_change is not None:
            # The older spelling of subscribing to GradesImported (kept for library users).
            self.bus.subscribe(GradesImported, lambda event: on_change(event.student_ids))

    async def import_sheet(
        self,
        sheet: Sheet,
        *,
        kind: ProgressKind | None = None,
        mode: ImportMode = ImportMode.DEFAULT,
        dry_run: bool = False,
        region: str | None = None,
        progress: Progress | None = None,
        within: UnitOfWork | None = None,
    ) -> ImportResult:
        total_rows = len(sheet.rows)
        student_ids: dict[str, int] = {}
        resolved: list[ValidRow] = []  # the rows, periods filled in, once resolved

        def validate() -> Validation:
            validation = validate_progress_rows(
                sheet, region or self._region, self._scale, kind=kind,
                progress=None if progress is None
                else (lambda done: progress("validating", done, total_rows)))
            return validation

        async def resolve(uow: UnitOfWork, validation: Validation) -> Resolution:
            assert isinstance(validation, ProgressValidation)
            phones = sorted({row.phone for row in validation.rows})
            existing = await uow.roster.existing(phones)
            student_ids.update({phone: found.id for phone, found in existing.items()})
            unknown = [row for row in validation.rows if row.phone not in student_ids]
            # A row without a period belongs to the course of that name when only one
            # period has it (an attendance sheet rarely repeats the period column).
            without = sorted({row.course for row in validation.rows if row.period is None})
            if without:
                periods = await uow.progress.course_periods(without)
                unique = {name: found[0] for name, found in periods.items()
                          if len(found) == 1 and found[0] is not None}
                resolved.extend(
                    row._replace(period=unique[row.course])
                    if row.period is None and row.course in unique else row
                    for row in validation.rows)
            label = validation.mapping.column_label("phone")
            issues = tuple(
                RowIssue(row=row.row, column=label, value=row.phone, normalized=row.phone,
                         severity=Severity.ERROR, code="UNKNOWN_STUDENT",
                         message=f"No hay ningún estudiante registrado con el teléfono "
                         f"{row.phone}. Impórtelo primero en la lista de estudiantes o "
                         "corrija el número.")
                for row in unknown)
            return Resolution(issues=issues, rejected_rows=frozenset(r.row for r in unknown))

        async def write(uow: UnitOfWork, validation: Validation,
                        rejected: frozenset[int]) -> WriteCounts:
            assert isinstance(validation, ProgressValidation)
            now = self._clock.now()
            rows = [row for row in (resolved or validation.rows) if row.row not in rejected]
            if validation.kind is ProgressKind.GRADES:
                return await uow.progress.write_grades([
                    GradeRow(row.row, student_ids[row.phone], row.course, row.period,
                             row.assessment, row.max_score, row.weight, row.due_date,
                             row.score, row.status)
                    for row in rows if isinstance(row, ValidGrade)], now)
            if validation.kind is ProgressKind.ATTENDANCE:
                return await uow.progress.write_attendance([
                    AttendanceRow(row.row, student_ids[row.phone], row.course, row.period,
                                  row.day, row.status)
                    for row in rows if isinstance(row, ValidAttendance)], now)
            return await uow.progress.write_enrollments([
                EnrollmentRow(row.row, student_ids[row.phone], row.course, row.period,
                              row.code)
                for row in rows if isinstance(row, ValidEnrollment)], now)

        result = await self._run(sheet, mode=mode, dry_run=dry_run, validate=validate,
                                 resolve=resolve, write=write, progress=progress,
                                 within=within, label=_label)
        if (within is None and student_ids
                and result.report.status is ImportStatus.COMPLETED):
            await self.bus.publish(GradesImported(tuple(dict.fromkeys(student_ids.values()))))
        return result
