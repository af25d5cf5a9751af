"""Importing an IMS OneRoster 1.1 CSV package (`eki oneroster import`).

An adapter reads the package (a zip or a folder of CSV files) and maps it onto the three
sheets EKI already knows how to import — students (``nombre``, ``telefono``, ``activo``),
enrolments (``telefono``, ``curso``, ``periodo``, ``codigo``) and grades (``telefono``,
``curso``, ``actividad``, ``nota``, ``nota_maxima``, ``fecha_entrega``, ``periodo``) — plus
the problems it found on the way (missing references, students without a phone…). This
service runs the existing student and progress imports on those sheets, in that order, in
ONE unit of work holding the import lock once, so a dry run's enrolments see the students
it would create and a strict run either writes all three or nothing.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NamedTuple

import attrs

from eki_domain.errors import InvalidInput
from eki_domain.model.gradebook import ProgressKind
from eki_domain.model.guardian import parse_relationship
from eki_domain.model.guardian_rows import GuardianRecord
from eki_domain.model.imports import (
    ImportFileError,
    ImportInProgress,
    ImportMode,
    ImportReport,
    ImportStatus,
    RowIssue,
    Severity,
    Sheet,
)
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import normalize_name
from eki_domain.ports.clock import Clock
from eki_domain.ports.repositories import UnitOfWork, UnitOfWorkFactory
from eki_domain.services.guardian_import import link_student_sheet_guardians
from eki_domain.services.imports import ImportResult, ImportService, spanish_summary
from eki_domain.services.progress_import import ProgressImportService
from eki_domain.services.student_import import StudentImportService

__all__ = [
    "LOCK_NAME",
    "OneRosterImportService",
    "OneRosterPackage",
    "OneRosterResult",
    "PackageIssue",
]

#: The name the import lock is taken under (one lock for the three imports).
LOCK_NAME = "oneroster"

_LABELS = {"students": "Estudiantes", "enrollments": "Matrículas", "grades": "Notas"}


@attrs.frozen
class PackageIssue(RowIssue):
    """A problem found while reading the package: a :class:`RowIssue` that also names the
    CSV file (``row`` is the line in that file, ``column`` its OneRoster column)."""

    file: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, **RowIssue.as_dict(self)}


class GuardianLinkRow(NamedTuple):
    """A guardian of a student, as users.csv says (``line``: the guardian's line)."""

    line: int
    student_phone: str
    name: str
    phone: str
    relationship: str


@attrs.frozen
class OneRosterPackage:
    """A OneRoster package mapped onto EKI's three import sheets.

    The sheets' row numbers are the line numbers of the CSV files they come from
    (users.csv, enrollments.csv, results.csv), so every row issue points at a real line.
    """

    name: str  # the zip or folder, for messages
    students: Sheet
    enrollments: Sheet
    grades: Sheet
    problems: tuple[RowIssue, ...] = ()
    version: str | None = None  # oneroster.version from manifest.csv, when given
    #: Guardians (role parent/guardian/relative, linked through agentSourcedIds).
    guardian_links: tuple[GuardianLinkRow, ...] = ()


@attrs.frozen
class OneRosterResult:
    students: ImportResult
    enrollments: ImportResult
    grades: ImportResult
    problems: tuple[RowIssue, ...]

    @property
    def reports(self) -> tuple[ImportReport, ImportReport, ImportReport]:
        return self.students.report, self.enrollments.report, self.grades.report

    @property
    def status(self) -> ImportStatus:
        """The package's status: the three reports always share it."""
        return self.students.report.status

    @property
    def errors(self) -> int:
        """Errors in the three reports and in the package problems."""
        return (sum(report.errors for report in self.reports)
                + sum(1 for p in self.problems if p.severity is Severity.ERROR))

    def as_dict(self) -> dict[str, Any]:
        return {
            "students": self.students.report.as_dict(),
            "enrollments": self.enrollments.report.as_dict(),
            "grades": self.grades.report.as_dict(),
            "problems": [problem.as_dict() for problem in self.problems],
        }


class OneRosterImportService:
    """Students, then enrolments, then grades from one package, all or nothing per run."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, students: StudentImportService,
                 progress: ProgressImportService, *,
                 on_commit: Callable[[], Awaitable[None] | None] | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._students = students
        self._progress = progress
        self._on_commit = on_commit  # e.g. clear the report cache

    async def import_package(
        self,
        package: OneRosterPackage,
        *,
        mode: ImportMode = ImportMode.DEFAULT,
        dry_run: bool = False,
        region: str | None = None,
    ) -> OneRosterResult:
        """Run the three imports in one transaction and record each in the history.

        The imports themselves always run in the default mode (so the enrolments of a
        valid student are not reported as unknown because another student was wrong);
        strict mode is applied to the package as a whole afterwards: any error in any
        report or any package problem rolls everything back and every report says
        ``rejected``. A dry run rolls back too, after counting exactly what it would do.
        """
        committed = False
        async with self._uow() as uow:
            if not await uow.imports.try_lock(LOCK_NAME):
                raise ImportInProgress(LOCK_NAME)
            students = await self._students.import_sheet(
                package.students, mode=ImportMode.DEFAULT, dry_run=dry_run, region=region,
                within=uow)
            enrollments = await self._progress.import_sheet(
                package.enrollments, kind=ProgressKind.ENROLLMENTS, mode=ImportMode.DEFAULT,
                dry_run=dry_run, region=region, within=uow)
            grades = await self._progress.import_sheet(
                package.grades, kind=ProgressKind.GRADES, mode=ImportMode.DEFAULT,
                dry_run=dry_run, region=region, within=uow)
            problems = package.problems + await link_package_guardians(
                uow, package.guardian_links, region or self._students.default_region,
                self._clock.now())
            results = (students, enrollments, grades)
            errors = (sum(r.report.errors for r in results)
                      + sum(1 for p in problems if p.severity is Severity.ERROR))
            rejected = mode is ImportMode.STRICT and errors > 0
            if rejected or dry_run:
                await uow.rollback()
            else:
                await uow.commit()
                committed = True
        if committed and self._on_commit is not None:
            outcome = self._on_commit()
            if inspect.isawaitable(outcome):
                await outcome

        finished: list[ImportResult] = []
        services: tuple[ImportService, ...] = (self._students, self._progress, self._progress)
        for key, result, service in zip(_LABELS, results, services, strict=True):
            result = attrs.evolve(result, report=_finish(result.report, _LABELS[key], mode,
                                                         rejected))
            finished.append(attrs.evolve(result, job_id=await service.record(result)))
        return OneRosterResult(students=finished[0], enrollments=finished[1],
                               grades=finished[2], problems=problems)

    async def record_failure(self, name: str, sha256: str, exc: ImportFileError, *,
                             mode: ImportMode = ImportMode.DEFAULT,
                             dry_run: bool = False) -> int:
        """Put a package that could not be read in the history (kind ``students``, status
        ``failed``): nothing of it was imported."""
        return await self._students.record_failure(name, sha256, exc, mode=mode,
                                                   dry_run=dry_run)


def _finish(report: ImportReport, label: str, mode: ImportMode,
            rejected: bool) -> ImportReport:
    """The report as the package run ends: the package's mode, and for a strict
    rejection the ``rejected`` status, zero counts and a message saying why."""
    report = attrs.evolve(report, mode=mode)
    if not rejected:
        message = report.message
        if not message.startswith(f"{label}:"):
            message = f"{label}: {message}"
        return attrs.evolve(report, message=message)
    report = attrs.evolve(report, status=ImportStatus.REJECTED, created=0, updated=0,
                          unchanged=0)
    if report.errors:
        text = spanish_summary(report)
    else:
        text = ("Modo estricto: no se guardó nada porque el paquete tiene errores (vea los "
                "problemas del paquete y los demás informes).")
    return attrs.evolve(report, message=f"{label}: {text}")


async def link_package_guardians(uow: UnitOfWork, rows: tuple[GuardianLinkRow, ...],
                                 region: str, now: datetime) -> tuple[RowIssue, ...]:
    """Link the package's guardians to the students just written (same transaction); a
    guardian that cannot be read is a warning on its users.csv line."""
    records: list[GuardianRecord] = []
    issues: list[RowIssue] = []
    for row in rows:
        try:
            records.append(GuardianRecord(
                row.line, PhoneNumber.parse(row.student_phone, region),
                PhoneNumber.parse(row.phone, region), normalize_name(row.name or "Acudiente"),
                parse_relationship(row.relationship)))
        except InvalidInput as exc:
            issues.append(PackageIssue(
                row=row.line, column="phone", value=row.phone, normalized=None,
                severity=Severity.WARNING, code="GUARDIAN_SKIPPED",
                message=f"users.csv, línea {row.line}: acudiente no vinculado: {exc.message}",
                file="users.csv"))
    records = [r for r in records if r.phone.e164 != r.student_phone.e164]
    if records:
        await link_student_sheet_guardians(uow, records, now)
    return tuple(issues)
