"""Importing a file from the command line, shared by ``eki students import``,
``eki progress import`` and ``eki oneroster import``: the options, the reader, the
progress bar, the printed report, the errors file and the exit codes (0 processed, even
with row errors; 1 rejected by ``--strict``; 2 unreadable)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from eki_adapters.spreadsheets.errors_file import errors_format_for, write_errors_file
from eki_domain.model.audit import AuditAction
from eki_domain.model.gradebook import ProgressKind
from eki_domain.model.imports import ImportMode, ImportReport, ImportStatus, Severity
from eki_domain.services.consent_import import ConsentImportService
from eki_domain.services.guardian_import import GuardianImportService
from eki_domain.services.imports import ImportService
from eki_entrypoints.cli.args import import_options
from eki_entrypoints.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    CliError,
    open_eki,
    print_json,
)
from eki_entrypoints.cli.readahead import ReadAhead, cli_reader
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.settings import Settings

__all__ = ["ProgressBar", "import_file", "import_options", "no_gc", "print_report"]


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


async def import_file(settings: Settings, args: argparse.Namespace, *, target: str) -> int:
    """Shared by `eki students import` and `eki progress import`: same reader, modes,
    report, errors file and exit codes."""
    read_ahead: ReadAhead | None = args.read_ahead
    data, name = await asyncio.to_thread(_read_input, args.file, read_ahead)
    mode = ImportMode.STRICT if args.strict else ImportMode.DEFAULT
    async with open_eki(settings) as eki:
        service: ImportService = eki.student_import if target == "students" else \
            eki.progress_import
        guardian_import = GuardianImportService(eki.uow, eki.clock,
                                                default_region=settings.default_country)
        consent_import = ConsentImportService(eki.uow, eki.clock,
                                              default_region=settings.default_country)
        if target == "guardians":
            service = guardian_import
        elif target == "consents":
            service = consent_import
        # Read ahead: parsed in a thread while EKI loaded (readahead.py), the same reader.
        sheet = await service.load(
            (lambda: cli_reader().read(data, name)) if read_ahead is None else read_ahead.sheet,
            filename=name, content=data, mode=mode, dry_run=args.dry_run)
        progress = ProgressBar(sys.stderr.isatty() and len(sheet.rows) > 2000)
        if target == "consents":
            result = await consent_import.import_sheet(
                sheet, version=settings.privacy_policy_version,
                recorded_by=cli_caller().principal.actor, mode=mode, dry_run=args.dry_run,
                region=args.country, progress=progress)
        elif target == "guardians":
            result = await guardian_import.import_sheet(
                sheet, mode=mode, dry_run=args.dry_run, region=args.country, progress=progress)
        elif target == "students":
            result = await eki.student_import.import_sheet(
                sheet, mode=mode, dry_run=args.dry_run, region=args.country, progress=progress)
        else:
            result = await eki.progress_import.import_sheet(
                sheet, kind=None if args.kind is None else ProgressKind(args.kind), mode=mode,
                dry_run=args.dry_run, region=args.country, progress=progress)
        if not args.dry_run:
            action = {"students": AuditAction.IMPORT_RUN,
                      "consents": AuditAction.CONSENT_IMPORT_RUN}.get(
                target, AuditAction.PROGRESS_IMPORT_RUN)
            await eki.audit.record(
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
