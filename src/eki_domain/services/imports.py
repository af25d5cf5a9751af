"""What every import shares: the flow, the modes, the report and the history.

``ImportService._run`` does, for any kind of import: validate the sheet (pure, in a
thread: it is CPU-bound), then in one transaction take the database-wide import lock,
resolve references against the database (which may reject more rows), stop if strict
mode found errors, write, and commit — or roll back for a dry run, which therefore
reports exactly the counts the real run would. Every run goes to the history.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol

import attrs

from eki_domain.model.events import ImportLanded
from eki_domain.model.imports import (
    FailedRow,
    HeaderMapping,
    ImportFileError,
    ImportInProgress,
    ImportMode,
    ImportReport,
    ImportStatus,
    RowIssue,
    Severity,
    Sheet,
)
from eki_domain.model.progress import WriteCounts
from eki_domain.ports.clock import Clock
from eki_domain.ports.imports import FailedRows
from eki_domain.ports.repositories import UnitOfWork, UnitOfWorkFactory
from eki_domain.ports.telemetry import NO_TELEMETRY, Telemetry
from eki_domain.services.messagebus import MessageBus

#: progress(stage, done, total): stage is "validating" or "writing"
Progress = Callable[[str, int, int], None]


class Validation(Protocol):
    """The outcome of validating a sheet, whatever the kind of rows."""

    @property
    def mapping(self) -> HeaderMapping: ...

    @property
    def issues(self) -> tuple[RowIssue, ...]: ...

    @property
    def rows_read(self) -> int: ...

    @property
    def rejected_rows(self) -> frozenset[int]: ...

    @property
    def cells(self) -> Mapping[int, Sequence[object]]: ...


@attrs.frozen
class ImportResult:
    report: ImportReport
    headers: tuple[str, ...]
    failed_rows: tuple[FailedRow, ...]
    job_id: int


@attrs.frozen
class Resolution:
    """What resolving references against the database added: more issues and rejected
    rows (e.g. a phone of no registered student)."""

    issues: tuple[RowIssue, ...] = ()
    rejected_rows: frozenset[int] = frozenset()


def spanish_summary(report: ImportReport) -> str:
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


def failed_rows(validation: Validation, issues: Sequence[RowIssue],
                rejected: frozenset[int]) -> tuple[FailedRow, ...]:
    """Rejected rows with their original cells and every error message of the row."""
    messages: dict[int, list[str]] = {}
    for issue in issues:
        if issue.severity is Severity.ERROR and issue.row in rejected:
            messages.setdefault(issue.row, []).append(issue.message)
    return tuple(
        FailedRow(row=row, cells=tuple(validation.cells.get(row, ())),
                  errors=" | ".join(messages.get(row, [])))
        for row in sorted(rejected)
    )


class ImportService:
    """Base of the student and progress imports (one ``kind`` each)."""

    kind = "import"

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, default_region: str = "CO",
                 telemetry: Telemetry = NO_TELEMETRY, bus: MessageBus | None = None):
        self._uow = uow
        self._clock = clock
        self._region = default_region
        #: Where row counts of real (not dry-run) imports are reported.
        self.telemetry = telemetry
        #: Publishes :class:`ImportLanded` after each committed import (and subclasses'
        #: own events).
        self.bus = bus if bus is not None else MessageBus()

    @property
    def default_region(self) -> str:
        return self._region

    async def load(self, read: Callable[[], Sheet], *, filename: str, content: bytes,
                   mode: ImportMode = ImportMode.DEFAULT, dry_run: bool = False) -> Sheet:
        """Run a reader (in a thread: parsing is CPU-bound); a file that cannot be read
        still goes to the history, as ``failed``, before the error is raised."""
        try:
            return await asyncio.to_thread(read)
        except ImportFileError as exc:
            await self.record_failure(filename, hashlib.sha256(content).hexdigest(), exc,
                                      mode=mode, dry_run=dry_run)
            raise

    async def record_failure(self, filename: str, sha256: str, exc: ImportFileError, *,
                             mode: ImportMode = ImportMode.DEFAULT,
                             dry_run: bool = False) -> int:
        """Put a file that could not even be read in the history (status ``failed``)."""
        sheet = Sheet(filename=filename, sha256=sha256, rows=())
        return await self._record(self._failed_report(sheet, mode, dry_run, exc, 0))

    async def _run(
        self,
        sheet: Sheet,
        *,
        mode: ImportMode,
        dry_run: bool,
        validate: Callable[[], Validation],
        resolve: Callable[[UnitOfWork, Validation], Awaitable[Resolution]],
        write: Callable[[UnitOfWork, Validation, frozenset[int]], Awaitable[WriteCounts]],
        progress: Progress | None = None,
        within: UnitOfWork | None = None,
        label: Callable[[Validation], str] | None = None,
    ) -> ImportResult:
        """Run one import. ``label`` names what was imported in the summary ("Notas: …").
        With ``within`` (an open unit of work whose owner holds the
        import lock) nothing is committed, rolled back or recorded here: the owner does it
        for several imports at once (OneRoster); ``job_id`` is then 0."""
        started = time.perf_counter()

        def elapsed_ms() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            validation = await asyncio.to_thread(validate)  # CPU-bound: keep the loop free
        except ImportFileError as exc:
            await self._record(self._failed_report(sheet, mode, dry_run, exc, elapsed_ms()))
            raise

        counts = WriteCounts(0, 0, 0)
        async with contextlib.AsyncExitStack() as stack:
            if within is None:
                uow = await stack.enter_async_context(self._uow())
                if not await uow.imports.try_lock(self.kind):
                    raise ImportInProgress(self.kind)
            else:
                uow = within
            resolution = await resolve(uow, validation)
            rejected = validation.rejected_rows | resolution.rejected_rows
            issues = tuple(sorted((*validation.issues, *resolution.issues),
                                  key=lambda i: (i.row, i.column or "")))
            if progress is not None:
                progress("writing", 0, validation.rows_read)
            if mode is ImportMode.STRICT and rejected:
                status = ImportStatus.REJECTED
            else:
                counts = await write(uow, validation, rejected)
                status = ImportStatus.DRY_RUN if dry_run else ImportStatus.COMPLETED
                if within is None:
                    if dry_run:
                        await uow.rollback()
                    else:
                        await uow.commit()
            if progress is not None:
                progress("writing", validation.rows_read, validation.rows_read)

        report = ImportReport(
            kind=self.kind, file=sheet.filename, sha256=sheet.sha256, mode=mode,
            dry_run=dry_run, status=status, rows_read=validation.rows_read,
            created=counts.created, updated=counts.updated, unchanged=counts.unchanged,
            rows_rejected=len(rejected), duration_ms=elapsed_ms(), issues=issues,
        )
        summary = spanish_summary(report)
        if label is not None:
            summary = f"{label(validation)}: {summary}"
        report = attrs.evolve(report, message=summary)
        if status is ImportStatus.COMPLETED and within is None:  # else the owner may roll back
            for outcome, rows in (("created", report.created), ("updated", report.updated),
                                  ("unchanged", report.unchanged),
                                  ("rejected", report.rows_rejected)):
                if rows:
                    self.telemetry.import_rows(self.kind, outcome, rows)
        failed = failed_rows(validation, issues, rejected)
        headers = validation.mapping.headers
        result = ImportResult(report=report, headers=headers, failed_rows=failed, job_id=0)
        if within is None:
            result = attrs.evolve(result, job_id=await self.record(result))
            if status is ImportStatus.COMPLETED:
                await self.bus.publish(ImportLanded(kind=self.kind, job_id=result.job_id))
        return result

    async def record(self, result: ImportResult) -> int:
        """Write a result to the import history; returns its id."""
        failed = (result.headers, result.failed_rows) if result.failed_rows else None
        return await self._record(result.report, failed)

    def _failed_report(self, sheet: Sheet, mode: ImportMode, dry_run: bool,
                       exc: ImportFileError, duration_ms: int) -> ImportReport:
        return ImportReport(
            kind=self.kind, file=sheet.filename, sha256=sheet.sha256, mode=mode,
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
