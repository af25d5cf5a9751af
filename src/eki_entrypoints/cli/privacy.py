"""``eki privacy``: a person's data on request (export, erase), the register of consultas
and reclamos, and the retention purge (docs/privacy.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from eki_domain.model.phone import PhoneNumber
from eki_domain.model.privacy import RequestKind
from eki_domain.services.privacy import ErasureReport
from eki_entrypoints.cli.common import EXIT_OK, CliError, open_eki, print_json
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.settings import Settings

PHONE_MAX = 40


def _phone(settings: Settings, raw: str) -> PhoneNumber:
    if len(raw) > PHONE_MAX:
        raise CliError("el teléfono es demasiado largo")
    return PhoneNumber.parse(raw.strip(), settings.default_country)


def _write_private(path: Path, text: str) -> None:
    """Written readable by its owner only: it holds a person's data."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # the mode above only applies to a new file
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


async def cmd_export(settings: Settings, args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".json":
        raise CliError("--out must name a .json file, e.g. datos.json")
    phone = _phone(settings, args.phone)
    async with open_eki(settings) as eki:
        document = await eki.privacy.export(cli_caller(), phone)
    text = json.dumps(document.as_dict(), ensure_ascii=False, indent=2)
    await asyncio.to_thread(_write_private, out, text)
    filled = [s for s in document.sections if s.rows]
    print(f"Datos de {phone.masked} en {out}: {sum(len(s.rows) for s in filled)} registro(s) "
          f"en {len(filled)} sección(es) de {len(document.sections)}. Referencia "
          f"{document.reference}.")
    return EXIT_OK


def _print_erasure(report: ErasureReport) -> None:
    print(f"Borrado {report.reference}: {report.deleted} registro(s) eliminados.")
    for table in report.tables:
        parts = []
        if table.deleted:
            parts.append(f"{table.deleted} eliminado(s)")
        if table.anonymised:
            parts.append(f"{table.anonymised} anonimizado(s)")
        if table.kept:
            parts.append(f"{table.kept} conservado(s)")
        if parts:
            note = f" — {table.note}" if table.note else ""
            print(f"  {table.table}: {', '.join(parts)}{note}")
    if report.remaining:
        print(f"Quedan {report.remaining} registro(s) con ese número.")
    else:
        print("No queda ningún registro con ese número.")


async def cmd_erase(settings: Settings, args: argparse.Namespace) -> int:
    phone = _phone(settings, args.phone)
    async with open_eki(settings) as eki:
        if not args.yes:
            person, rows = await eki.privacy.preview_erase(cli_caller(), phone)
            who = ", ".join(filter(None, (
                f"{len(person.student_ids)} estudiante(s)" if person.student_ids else "",
                f"{len(person.guardian_ids)} acudiente(s)" if person.guardian_ids else "")))
            print(f"Se borrarán {rows} registro(s) de {phone.masked}"
                  f"{f' ({who})' if who else ''}"
                  f"{', conservando notas y asistencia sin nombre' if args.keep_academic else ''}"
                  ". No se puede deshacer.", file=sys.stderr)
            if not sys.stdin.isatty():
                raise CliError("confirm with --yes (nothing was erased)")
            answer = await asyncio.to_thread(input, "Escriba BORRAR para confirmar: ")
            if answer.strip().upper() != "BORRAR":
                raise CliError("not confirmed: nothing was erased")
        report = await eki.privacy.erase(cli_caller(), phone,
                                         keep_academic=args.keep_academic)
    if args.json:
        print_json(report.as_dict())
    else:
        _print_erasure(report)
    return EXIT_OK


async def cmd_request_add(settings: Settings, args: argparse.Namespace) -> int:
    phone = _phone(settings, args.phone)
    async with open_eki(settings) as eki:
        request = await eki.privacy.open_request(cli_caller(), phone,
                                                 RequestKind.parse(args.kind), args.note or "")
    print(f"Solicitud {request.id} ({request.kind.value}) de {phone.masked}: vence el "
          f"{request.due_on:%d/%m/%Y} ({request.kind.business_days} días hábiles).")
    return EXIT_OK


async def cmd_request_list(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        found = await eki.privacy.requests(cli_caller(), open_only=not args.all)
        today = eki.privacy.today()
    if args.json:
        print_json([r.as_dict(today) for r in found])
        return EXIT_OK
    if not found:
        print("No hay solicitudes abiertas." if not args.all else "No hay solicitudes.")
    for r in found:
        phone = PhoneNumber.parse(r.phone).masked if r.phone else r.reference
        if r.closed_at is not None:
            state = f"cerrada {r.closed_at:%d/%m/%Y}"
        else:
            left = r.business_days_left(today)
            state = (f"VENCIDA hace {-left} día(s) hábil(es)" if r.due_on < today
                     else f"quedan {left} día(s) hábil(es)")
        print(f"{r.id:>5}  {r.kind.value:<9} {phone:<14} vence {r.due_on:%d/%m/%Y}  {state}"
              f"{f'  — {r.note}' if r.note else ''}")
    return EXIT_OK


async def cmd_request_close(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        request = await eki.privacy.close_request(cli_caller(), args.id)
    print(f"Solicitud {request.id} cerrada.")
    return EXIT_OK


async def cmd_purge(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        report = await eki.privacy.purge(dry_run=args.dry_run, caller=cli_caller())
    if args.json:
        print_json(report.as_dict())
        return EXIT_OK
    verb = "Se borrarían" if report.dry_run else "Borrados"
    print(f"{verb} {report.total} registro(s) vencidos (webhooks "
          f"{settings.retention_webhook_days} d, mensajes {settings.retention_message_days} d, "
          f"auditoría {settings.retention_audit_days} d):")
    for table, count in report.counts.items():
        print(f"  {table}: {count}")
    return EXIT_OK


def _request_id(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 2**62:
        raise argparse.ArgumentTypeError("must be a request number")
    return value


def add_parser(sub: Any) -> None:
    group = sub.add_parser("privacy", help="data requests (habeas data) and retention"
                           ).add_subparsers(dest="privacy_command", required=True,
                                            metavar="ACTION")
    export = group.add_parser("export", help="everything EKI holds about a phone, as JSON")
    export.add_argument("phone", metavar="PHONE")
    export.add_argument("--out", required=True, metavar="FILE.json")
    export.set_defaults(handler=cmd_export)

    erase = group.add_parser("erase", help="delete everything EKI holds about a phone")
    erase.add_argument("phone", metavar="PHONE")
    erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    erase.add_argument("--keep-academic", action="store_true",
                       help="keep grades, attendance and tags under an anonymous id")
    erase.add_argument("--json", action="store_true", help="the report as JSON")
    erase.set_defaults(handler=cmd_erase)

    request = group.add_parser("request", help="the register of consultas and reclamos"
                               ).add_subparsers(dest="request_command", required=True,
                                                metavar="ACTION")
    add = request.add_parser("add", help="register a request (deadline in business days)")
    add.add_argument("phone", metavar="PHONE")
    add.add_argument("--kind", required=True, choices=[k.value for k in RequestKind])
    add.add_argument("--note", default="", help="what was asked (up to 500 characters)")
    add.set_defaults(handler=cmd_request_add)
    listing = request.add_parser("list", help="open requests, nearest deadline first")
    listing.add_argument("--all", action="store_true", help="closed ones too")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=cmd_request_list)
    close = request.add_parser("close", help="mark a request answered")
    close.add_argument("id", type=_request_id, metavar="ID")
    close.set_defaults(handler=cmd_request_close)

    purge = group.add_parser("purge", help="delete what is past its retention now")
    purge.add_argument("--dry-run", action="store_true", help="only count")
    purge.add_argument("--json", action="store_true")
    purge.set_defaults(handler=cmd_purge)
