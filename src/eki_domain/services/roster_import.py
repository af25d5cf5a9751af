"""Importing students from a spreadsheet (or rows the caller already has).

One import at a time per database; everything in one transaction, so strict
mode and dry runs are all-or-nothing; every run is written to the history.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import attrs

from eki_domain.model.imports import (
    FailedRow,
    ImportFileError,
    ImportInProgress,
    ImportMode,
    ImportReport,
    ImportStatus,
    RowIssue,
    Severity,
    Sheet,
    sheet_from_records,
)
from eki_domain.model.roster import RosterValidation, plan_roster, validate_student_rows
from eki_domain.ports.clock import Clock
from eki_domain.ports.imports import FailedRows
from eki_domain.ports.repositories import UnitOfWorkFactory

#: progress(stage, done, total): stage is "validating" or "writing"
Progress = Callable[[str, int, int], None]


@attrs.frozen
class ImportResult:
    report: ImportReport
    headers: tuple[str, ...]
    failed_rows: tuple[FailedRow, ...]
    job_id: int


def _spanish_summary(report: ImportReport) -> str:
    if report.status is ImportStatus.REJECTED:
        return (f"Modo estricto: no se guardó nada porque hay {report.errors} error(es) en "
                f"{report.rows_rejected} fila(s). Corríjalos y vuelva a subir el archivo.")
    verb = "se crearían" if report.dry_run else "creados"
    prefix = "Simulación (no se guardó nada): " if report.dry_run else ""
    parts = [f"{report.created} {verb}",
             f"{report.updated} {'se actualizarían' if report.dry_run else 'actualizados'}",
             f"{report.unchanged} sin cambios"]
    text = f"{prefix}{report.rows_read} filas leídas: " + ", ".join(parts)
    if report.rows_rejected:
        text += f"; {report.rows_rejected} fila(s) con errores no se importaron"
    return text + "."


class StudentImportService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, default_region: str = "CO"):
        self._uow = uow
        self._clock = clock
        self._region = default_region

    async def import_records(
        self, records: Sequence[Mapping[str, object]], *, filename: str = "api.json",
        mode: ImportMode = ImportMode.DEFAULT, dry_run: bool = False,
        region: str | None = None,
    ) -> ImportResult:
        """Import rows given as dicts with the same column names a spreadsheet would use."""
        return await self.import_sheet(sheet_from_records(records, filename), mode=mode,
                                       dry_run=dry_run, region=region)

    async def import_sheet(
        self,
        sheet: Sheet,
        *,
        mode: ImportMode = ImportMode.DEFAULT,
        dry_run: bool = False,
        region: str | None = None,
        progress: Progress | None = None,
    ) -> ImportResult:
        started = time.perf_counter()

        def elapsed_ms() -> int:
            return int((time.perf_counter() - started) * 1000)

        total_rows = len(sheet.rows)
        try:
            # CPU-bound (about half a second per 100,000 rows): keep the event loop free.
            validation = await asyncio.to_thread(
                validate_student_rows,
                sheet, region or self._region,
                progress=None if progress is None
                else (lambda done: progress("validating", done, total_rows)),
            )
        except ImportFileError as exc:
            await self._record(self._failed_report(sheet, mode, dry_run, exc, elapsed_ms()))
            raise

        created = updated = unchanged = 0
        async with self._uow() as uow:
            if not await uow.imports.try_lock("students"):
                raise ImportInProgress("students")
            if progress is not None:
                progress("writing", 0, len(validation.records))
            has_errors = bool(validation.rejected_rows)
            if mode is ImportMode.STRICT and has_errors:
                status = ImportStatus.REJECTED
            else:
                existing = await uow.roster.existing(
                    [record.phone.e164 for record in validation.records]
                )
                plan = plan_roster(validation.records, existing)
                if plan.creates or plan.updates:
                    await uow.roster.write(plan, self._clock.now())
                created, updated, unchanged = len(plan.creates), len(plan.updates), plan.unchanged
                if dry_run:
                    await uow.rollback()
                    status = ImportStatus.DRY_RUN
                else:
                    await uow.commit()
                    status = ImportStatus.COMPLETED
            if progress is not None:
                progress("writing", len(validation.records), len(validation.records))

        report = ImportReport(
            kind="students", file=sheet.filename, sha256=sheet.sha256, mode=mode,
            dry_run=dry_run, status=status, rows_read=validation.rows_read, created=created,
            updated=updated, unchanged=unchanged,
            rows_rejected=len(validation.rejected_rows), duration_ms=elapsed_ms(),
            issues=validation.issues,
        )
        report = attrs.evolve(report, message=_spanish_summary(report))
        failed = failed_rows(validation)
        headers = validation.mapping.headers
        job_id = await self._record(report, (headers, failed) if failed else None)
        return ImportResult(report=report, headers=headers, failed_rows=failed, job_id=job_id)

    async def record_failure(self, filename: str, sha256: str, exc: ImportFileError, *,
                             mode: ImportMode = ImportMode.DEFAULT,
                             dry_run: bool = False) -> int:
        """Put a file that could not even be read in the history (status ``failed``)."""
        sheet = Sheet(filename=filename, sha256=sha256, rows=())
        return await self._record(self._failed_report(sheet, mode, dry_run, exc, 0))

    def _failed_report(self, sheet: Sheet, mode: ImportMode, dry_run: bool,
                       exc: ImportFileError, duration_ms: int) -> ImportReport:
        return ImportReport(
            kind="students", file=sheet.filename, sha256=sheet.sha256, mode=mode,
            dry_run=dry_run, status=ImportStatus.FAILED, rows_read=0, created=0, updated=0,
            unchanged=0, rows_rejected=0, duration_ms=duration_ms,
            issues=(RowIssue(row=0, column=None, value=None, normalized=None,
                             severity=Severity.ERROR, code=exc.code, message=exc.message),),
            message=exc.message,
        )

    async def _record(self, report: ImportReport, failed: FailedRows | None = None) -> int:
        async with self._uow() as uow:
            job_id = await uow.imports.record(report, self._clock.now(), failed)
            await uow.commit()
        return job_id


def failed_rows(validation: RosterValidation) -> tuple[FailedRow, ...]:
    """Rejected rows with their original cells and every error message of the row."""
    messages: dict[int, list[str]] = {}
    for issue in validation.issues:
        if issue.severity is Severity.ERROR and issue.row in validation.rejected_rows:
            messages.setdefault(issue.row, []).append(issue.message)
    return tuple(
        FailedRow(row=row, cells=tuple(validation.cells[row]), errors=" | ".join(messages[row]))
        for row in sorted(validation.rejected_rows)
    )


def rejected_phone_messages(report: ImportReport, raw_phones: Iterable[tuple[int, object]]
                            ) -> list[str]:
    """The seed API's ``errores``: ``"<telefono>: <mensaje>"`` per rejected row."""
    phone_of = dict(raw_phones)
    out: list[str] = []
    for issue in report.issues:
        if issue.severity is Severity.ERROR:
            out.append(f"{phone_of.get(issue.row, '') or ''}: {issue.message}")
    return out
