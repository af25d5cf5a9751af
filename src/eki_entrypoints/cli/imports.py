"""``eki imports list``: the import history."""

from __future__ import annotations

import argparse
from typing import Any

import attrs

from eki_entrypoints.cli.common import EXIT_OK, open_eki, page_size, print_json
from eki_entrypoints.settings import Settings


async def cmd_imports_list(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki, eki.uow() as uow:
        records = await uow.imports.recent(kind=args.kind, limit=args.limit)
    if args.json:
        print_json([
            {**attrs.asdict(r, recurse=False), "finished_at": r.finished_at.isoformat()}
            for r in records
        ])
        return EXIT_OK
    if not records:
        print("Todavía no hay importaciones.")
    for r in records:
        print(f"#{r.id:<5} {r.finished_at:%Y-%m-%d %H:%M} {r.kind:<9} {r.status:<9} "
              f"{r.file}  leídas {r.rows_read}, creadas {r.created}, actualizadas {r.updated}, "
              f"sin cambios {r.unchanged}, errores {r.errors}")
    return EXIT_OK


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    imports = sub.add_parser("imports", help="the import history").add_subparsers(
        dest="imports_command", required=True, metavar="ACTION"
    )
    hist = imports.add_parser("list", help="recent imports, newest first")
    hist.add_argument("--kind", choices=["students", "progress"], default=None)
    hist.add_argument("--limit", type=page_size, default=20)
    hist.add_argument("--json", action="store_true")
    hist.set_defaults(handler=cmd_imports_list)
