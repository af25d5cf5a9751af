"""Importing a file from the command line, shared by ``eki students import``,
``eki progress import`` and ``eki oneroster import``: the options, the reader, the
progress bar, the printed report, the errors file and the exit codes (0 processed, even
with row errors; 1 rejected by ``--strict``; 2 unreadable).

A students, guardians or consent import opens only what it uses (:func:`open_importer`):
the database, the unit of work, the clock, the telemetry, the audit trail and its own
service, built as :func:`eki_entrypoints.bootstrap.bootstrap` builds them — not the rest
of the application, whose modules it then never imports.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, cast

import attrs

from eki_adapters.spreadsheets.errors_file import errors_format_for, write_errors_file
from eki_domain.model.audit import AuditAction
from eki_domain.model.imports import ImportMode, ImportReport, ImportStatus, Severity
from eki_entrypoints.cli.args import import_options
from eki_entrypoints.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    SCHEMA_BEHIND,
    CliError,
    open_eki,
    print_json,
)
from eki_entrypoints.cli.readahead import ReadAhead, cli_reader
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.settings import Settings

if TYPE_CHECKING:
    from eki_domain.ports.clock import Clock
    from eki_domain.ports.repositories import UnitOfWorkFactory
    from eki_domain.ports.staff import StaffUnitOfWork
    from eki_domain.ports.telemetry import Telemetry
    from eki_domain.services.audit import AuditTrail
    from eki_domain.services.consent_import import ConsentImportService
    from eki_domain.services.guardian_import import GuardianImportService
    from eki_domain.services.imports import ImportService
    from eki_domain.services.progress_import import ProgressImportService
    from eki_domain.services.student_import import StudentImportService

__all__ = ["Importer", "ProgressBar", "import_file", "import_options", "no_gc",
           "open_importer", "print_report"]


class ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        percent = min(100, done * 100 // total)
        if percent == self._last:
            return
        self._last = percent
        label = "validando" if stage == "validating" else "guardando"
        bar = "#" * (percent // 4)
        sys.stderr.write(f"\r{label:<10} [{bar:<25}] {percent:3d}% ({done}/{total})")
        if stage == "writing" and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def print_report(report: ImportReport, limit: int = 20) -> None:
    print(report.message)
    print(f"Archivo: {report.file} (sha256 {report.sha256[:12]}…), "
          f"{report.errors} error(es), {report.warnings} aviso(s), {report.duration_ms} ms.")
    for issue in report.issues[:limit]:
        where = f"Fila {issue.row}" + (f", columna «{issue.column}»" if issue.column else "")
        kind = "ERROR" if issue.severity is Severity.ERROR else "aviso"
        print(f"  {kind:<5} {where}: {issue.message}")
    if len(report.issues) > limit:
        print(f"  … y {len(report.issues) - limit} más (use --json o --errors-out para verlos "
              "todos).")


def _read_input(path_text: str, read_ahead: ReadAhead | None = None) -> tuple[bytes, str]:
    path = Path(path_text)
    try:
        return (path.read_bytes() if read_ahead is None else read_ahead.data()), path.name
    except FileNotFoundError:
        raise CliError(f"file not found: {path_text}") from None
    except IsADirectoryError:
        raise CliError(f"{path_text} is a folder, not a file") from None
    except PermissionError:
        raise CliError(f"cannot read {path_text}: permission denied") from None


@contextmanager
def no_gc() -> Iterator[None]:
    """An import allocates millions of short-lived, acyclic objects: the cyclic garbage
    collector would scan them again and again (~10-15% of the run) and find nothing.
    The one-shot CLI process pauses it; reference counting still frees memory."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@attrs.frozen
class Importer:
    """What a file import uses of the application: its service (``target``'s), the audit
    trail, the units of work and the clock."""

    service: ImportService
    audit: AuditTrail
    uow: UnitOfWorkFactory
    clock: Clock


@asynccontextmanager
async def open_importer(settings: Settings, target: str) -> AsyncIterator[Importer]:
    """The application of a file import of ``target`` (students, guardians, consents or
    progress), opened and closed as :func:`~eki_entrypoints.cli.common.open_eki` opens and
    closes it: embedded SQLite migrated on the fly, a server database checked to be at the
    latest schema, the engine disposed of at the end.

    A progress import opens the whole application (its grades also clear the cached
    reports, which other services hold). The others build only their own service, with
    the same adapters and settings ``bootstrap`` gives it (the telemetry: see
    :func:`_telemetry`), and import nothing else.
    """
    if target == "progress":
        async with open_eki(settings) as eki:
            yield Importer(eki.progress_import, eki.audit, eki.uow, eki.clock)
        return
    from eki_adapters.sql.migrate import is_at_head, upgrade
    from eki_adapters.system.clock import SystemClock
    from eki_domain.services.audit import AuditTrail
    from eki_entrypoints.storage import database_engine, unit_of_work

    engine = database_engine(settings)
    try:
        uow = unit_of_work(settings, engine, owns_engine=True)
        if settings.is_sqlite:
            await upgrade(engine)
        elif not await is_at_head(engine):
            raise CliError(SCHEMA_BEHIND)
        clock = SystemClock()
        yield Importer(_import_service(target, settings, uow, clock),
                       AuditTrail(cast("Callable[[], StaffUnitOfWork]", uow), clock), uow, clock)
    finally:
        await engine.dispose()


def _import_service(target: str, settings: Settings, uow: UnitOfWorkFactory,
                    clock: Clock) -> ImportService:
    """The service of a students, guardians or consent import, as ``bootstrap`` (students)
    and :func:`import_file` (the others) have always built it."""
    if target == "students":
        from eki_domain.services.student_import import StudentImportService

        return StudentImportService(uow, clock, default_region=settings.default_country,
                                    telemetry=_telemetry(settings))
    if target == "guardians":
        from eki_domain.services.guardian_import import GuardianImportService

        return GuardianImportService(uow, clock, default_region=settings.default_country)
    if target == "consents":
        from eki_domain.services.consent_import import ConsentImportService

        return ConsentImportService(uow, clock, default_region=settings.default_country)
    raise ValueError(f"no file import of {target!r}")


def _telemetry(settings: Settings) -> Telemetry:
    """The import's row counts reach Prometheus only through PROMETHEUS_MULTIPROC_DIR (a
    command-line process serves no ``/metrics``): there, the Prometheus telemetry
    ``bootstrap`` gives every process; without it, nobody could read them, and prometheus-client
    is not even imported."""
    if settings.prometheus_multiproc_dir is None:
        from eki_domain.ports.telemetry import NO_TELEMETRY

        return NO_TELEMETRY
    from eki_adapters.prometheus import PrometheusTelemetry

    return PrometheusTelemetry(multiprocess_dir=settings.prometheus_multiproc_dir)


async def import_file(settings: Settings, args: argparse.Namespace, *, target: str) -> int:
    """Shared by `eki students|guardians|consent|progress import`: same reader, modes,
    report, errors file and exit codes."""
    read_ahead: ReadAhead | None = args.read_ahead
    data, name = await asyncio.to_thread(_read_input, args.file, read_ahead)
    mode = ImportMode.STRICT if args.strict else ImportMode.DEFAULT
    async with open_importer(settings, target) as app:
        service = app.service
        # Read ahead: parsed in a thread while EKI loaded (readahead.py), the same reader.
        sheet = await service.load(
            (lambda: cli_reader().read(data, name)) if read_ahead is None else read_ahead.sheet,
            filename=name, content=data, mode=mode, dry_run=args.dry_run)
        progress = ProgressBar(sys.stderr.isatty() and len(sheet.rows) > 2000)
        if target == "consents":
            result = await cast("ConsentImportService", service).import_sheet(
                sheet, version=settings.privacy_policy_version,
                recorded_by=cli_caller().principal.actor, mode=mode, dry_run=args.dry_run,
                region=args.country, progress=progress)
        elif target == "guardians":
            result = await cast("GuardianImportService", service).import_sheet(
                sheet, mode=mode, dry_run=args.dry_run, region=args.country, progress=progress)
        elif target == "students":
            result = await cast("StudentImportService", service).import_sheet(
                sheet, mode=mode, dry_run=args.dry_run, region=args.country, progress=progress)
        else:
            from eki_domain.model.gradebook import ProgressKind

            result = await cast("ProgressImportService", service).import_sheet(
                sheet, kind=None if args.kind is None else ProgressKind(args.kind), mode=mode,
                dry_run=args.dry_run, region=args.country, progress=progress)
        if not args.dry_run:
            action = {"students": AuditAction.IMPORT_RUN,
                      "guardians": AuditAction.GUARDIAN_IMPORT_RUN,
                      "consents": AuditAction.CONSENT_IMPORT_RUN,
                      "progress": AuditAction.PROGRESS_IMPORT_RUN}[target]
            await app.audit.record(
                cli_caller(), action, target_type="import",
                target_id=str(result.job_id), created=result.report.created,
                updated=result.report.updated, via="cli")
    report = result.report
    if args.errors_out:
        if result.failed_rows:
            out = Path(args.errors_out)
            content = write_errors_file(result.headers, result.failed_rows,
                                        errors_format_for(out))
            await asyncio.to_thread(out.write_bytes, content)
            print(f"Filas con errores guardadas en {out} ({len(result.failed_rows)}): "
                  "corríjalas y vuelva a importar ese archivo.", file=sys.stderr)
        else:
            print("No hay filas con errores: no se escribió archivo de errores.",
                  file=sys.stderr)
    if args.json:
        print_json(report.as_dict())
    else:
        print_report(report)
    return EXIT_FAILURE if report.status is ImportStatus.REJECTED else EXIT_OK
