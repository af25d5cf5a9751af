"""``eki oneroster import PATH``: students, enrolments and grades from a OneRoster 1.1 CSV
package (a .zip or a folder), in one transaction. See docs/oneroster.md.

Hooked into the main parser by :func:`add_parser`; the handler reuses the CLI's database
opening (:mod:`.common`), report printing (:mod:`.importing`) and exit codes (0 processed,
1 rejected by --strict, 2 unreadable).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from pathlib import Path
from typing import Any

from eki_adapters.oneroster import read_oneroster
from eki_domain.model.imports import ImportFileError, ImportMode, ImportStatus, Severity
from eki_domain.services.oneroster_import import (
    OneRosterImportService,
    OneRosterPackage,
    OneRosterResult,
    PackageIssue,
)
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.cli.common import (
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    open_eki,
    print_json,
    region,
)
from eki_entrypoints.cli.importing import print_report
from eki_entrypoints.settings import Settings

#: Problems printed in the text output (--json gives them all).
PROBLEM_LIMIT = 20


def add_parser(subparsers: Any) -> None:
    """Add ``oneroster import`` to the ``eki`` sub-commands (``subparsers`` is what
    ``ArgumentParser.add_subparsers()`` returned)."""
    oneroster = subparsers.add_parser(
        "oneroster", help="IMS OneRoster 1.1 CSV packages").add_subparsers(
        dest="oneroster_command", required=True, metavar="ACTION")
    imp = oneroster.add_parser(
        "import",
        help="import students, enrolments and grades from a OneRoster 1.1 CSV zip or folder",
        description="Reads users.csv (students with sms/phone), classes.csv, courses.csv, "
        "academicSessions.csv, enrollments.csv, lineItems.csv and results.csv and imports "
        "them as students, then enrolments, then grades, in one transaction. Missing "
        "references are reported, not fatal. Exit 0 when the package was processed (even "
        "with problems), 1 when --strict rejected it, 2 when it cannot be read.",
    )
    imp.add_argument("path", metavar="PATH", help="the .zip or the folder of the package")
    imp.add_argument("--dry-run", action="store_true",
                     help="do everything, then roll back: see what would happen")
    imp.add_argument("--strict", action="store_true",
                     help="any error in any file: write nothing")
    imp.add_argument("--country", type=region, default=None, metavar="CC",
                     help="region for phones without a country code (default "
                     "EKI_DEFAULT_COUNTRY)")
    imp.add_argument("--json", action="store_true",
                     help='print {"students", "enrollments", "grades", "problems"} as JSON')
    imp.set_defaults(handler=cmd_oneroster_import)


def oneroster_service(eki: Eki) -> OneRosterImportService:
    """The OneRoster import over the application's student and progress imports; a
    committed import clears the report cache."""
    return OneRosterImportService(eki.uow, eki.clock, eki.student_import, eki.progress_import,
                                  on_commit=eki.progress.clear)


def _sha256(path: Path) -> str:
    if not path.is_file():
        return ""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _print_problems(result: OneRosterResult) -> None:
    problems = result.problems
    if not problems:
        return
    errors = sum(1 for p in problems if p.severity is Severity.ERROR)
    print(f"Problemas del paquete: {errors} error(es), {len(problems) - errors} aviso(s).")
    for issue in problems[:PROBLEM_LIMIT]:
        kind = "ERROR" if issue.severity is Severity.ERROR else "aviso"
        where = "" if isinstance(issue, PackageIssue) else f"Fila {issue.row}: "
        print(f"  {kind:<5} {where}{issue.message}")
    if len(problems) > PROBLEM_LIMIT:
        print(f"  … y {len(problems) - PROBLEM_LIMIT} más (use --json para verlos todos).")


def _print_result(package: OneRosterPackage, result: OneRosterResult) -> None:
    version = f"OneRoster {package.version}" if package.version else "OneRoster"
    print(f"Paquete {version} «{package.name}».")
    for report in result.reports:
        print()
        print_report(report)
    print()
    _print_problems(result)
    if result.status is ImportStatus.REJECTED:
        print("Modo estricto: no se guardó nada. Corrija los errores y vuelva a importar "
              "el paquete.")
    elif result.status is ImportStatus.DRY_RUN:
        print("Simulación: no se guardó nada.")


async def cmd_oneroster_import(settings: Settings, args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not await asyncio.to_thread(path.exists):
        print(f"eki: file or folder not found: {args.path}", file=sys.stderr)
        return EXIT_USAGE
    mode = ImportMode.STRICT if args.strict else ImportMode.DEFAULT
    async with open_eki(settings) as eki:
        service = oneroster_service(eki)
        try:
            package = await asyncio.to_thread(read_oneroster, path)
        except ImportFileError as exc:
            await service.record_failure(path.name, await asyncio.to_thread(_sha256, path),
                                         exc, mode=mode, dry_run=args.dry_run)
            print(f"eki: {exc.message}", file=sys.stderr)
            return EXIT_USAGE
        result = await service.import_package(package, mode=mode, dry_run=args.dry_run,
                                               region=args.country)
    if args.json:
        print_json(result.as_dict())
    else:
        _print_result(package, result)
    return EXIT_FAILURE if result.status is ImportStatus.REJECTED else EXIT_OK
