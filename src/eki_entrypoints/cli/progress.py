"""``eki progress import``: grades, attendance and enrolments from a spreadsheet."""

from __future__ import annotations

import argparse
from typing import Any

from eki_entrypoints.cli.args import progress_options
from eki_entrypoints.cli.importing import import_file, no_gc
from eki_entrypoints.settings import Settings


async def cmd_progress_import(settings: Settings, args: argparse.Namespace) -> int:
    with no_gc():
        return await import_file(settings, args, target="progress")


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    progress = sub.add_parser("progress", help="grades, attendance and enrolments"
                              ).add_subparsers(dest="progress_command", required=True,
                                               metavar="ACTION")
    pimp = progress.add_parser(
        "import",
        help="import grades, attendance or enrolments from .xlsx/.csv",
        description="One row per result (telefono, curso, actividad, nota, nota_maxima, "
        "peso, fecha_entrega, periodo), per class day (telefono, curso, fecha, estado) or "
        "per enrolment (telefono, curso, periodo). The kind is detected from the headers. "
        "Same modes and exit codes as `eki students import`.",
    )
    progress_options(pimp)
    pimp.set_defaults(handler=cmd_progress_import)
