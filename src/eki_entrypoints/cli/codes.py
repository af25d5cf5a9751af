"""``eki codes``: verification codes to print and send home (docs/families.md)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from eki_domain.model.codes import CodePurpose
from eki_domain.model.phone import PhoneNumber
from eki_entrypoints.cli.common import EXIT_OK, CliError, open_eki, print_json
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.families import code_desk, codes_workbook
from eki_entrypoints.settings import Settings

__all__ = ["add_parser"]


async def cmd_codes_issue(settings: Settings, args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        raise CliError("--out must name an .xlsx file, e.g. codigos.xlsx")
    purpose = CodePurpose(args.purpose)
    async with open_eki(settings) as eki:
        codes = await code_desk(eki).issue(cli_caller(), tags=args.tag or (), purpose=purpose)
    await asyncio.to_thread(out.write_bytes, codes_workbook(codes, purpose))
    print(f"{len(codes)} código(s) en {out} (vencen en {settings.code_days} días; los "
          "anteriores sin usar quedaron anulados).")
    return EXIT_OK


async def cmd_codes_pending(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        pending = await code_desk(eki).pending()
    if args.json:
        print_json([{"id": code.id, "phone": code.used_by, "student": student.name,
                     "purpose": code.purpose.value,
                     "redeemed_at": code.used_at.isoformat() if code.used_at else None}
                    for code, student in pending])
        return EXIT_OK
    if not pending:
        print("No hay registros por aprobar.")
    for code, student in pending:
        print(f"{code.used_by:<16} {student.name} ({code.purpose.value})")
    return EXIT_OK


async def _decide_number(settings: Settings, phone: str, *, approve: bool) -> int:
    """Approve or reject every redemption waiting from ``phone``; the number is told
    (when its 24-hour window is open), as from the admin site."""
    try:
        number = PhoneNumber.parse(phone, settings.default_country)
    except ValueError as exc:
        raise CliError(f"Teléfono no válido: {exc}") from exc
    async with open_eki(settings) as eki:
        desk = code_desk(eki)
        waiting = [code for code, _ in await desk.pending()
                   if code.used_by in number.match_candidates() and code.id is not None]
        if not waiting:
            raise CliError(f"No hay registros por aprobar del número {number.masked}. "
                           "Vea la lista con `eki codes pending`.")
        told = 0
        for code in waiting:
            assert code.id is not None
            decision = await desk.decide(cli_caller(), code.id, approve=approve, via="cli",
                                         notify_channel=eki.channel.name)
            told += decision.notified
    verb = "aprobado(s)" if approve else "rechazado(s)"
    print(f"{len(waiting)} registro(s) {verb}; "
          + ("se avisó al número por WhatsApp." if told else
             "no se avisó por WhatsApp (el número no escribió en las últimas 24 horas)."))
    return EXIT_OK


async def cmd_codes_approve(settings: Settings, args: argparse.Namespace) -> int:
    return await _decide_number(settings, args.phone, approve=True)


async def cmd_codes_reject(settings: Settings, args: argparse.Namespace) -> int:
    return await _decide_number(settings, args.phone, approve=False)


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    codes = sub.add_parser(
        "codes", help="verification codes for numbers the school does not have",
        description="One single-use code per student, to print and send home; an unknown "
                    "number that writes it is linked (docs/families.md).").add_subparsers(
        dest="codes_command", required=True, metavar="ACTION")
    issue = codes.add_parser("issue", help="a new code per active student (revokes old ones)")
    issue.add_argument("--tag", action="append", metavar="T", help="only students with a tag")
    issue.add_argument("--for", dest="purpose", choices=("guardians", "students"),
                       default="guardians",
                       help="link the number as a guardian (default) or as the student's own")
    issue.add_argument("--out", required=True, metavar="FILE.xlsx")
    issue.set_defaults(handler=cmd_codes_issue)
    pending = codes.add_parser("pending", help="redeemed codes waiting for approval")
    pending.add_argument("--json", action="store_true")
    pending.set_defaults(handler=cmd_codes_pending)
    approve = codes.add_parser("approve", help="approve the redemptions of a number")
    approve.add_argument("phone", metavar="PHONE")
    approve.set_defaults(handler=cmd_codes_approve)
    reject = codes.add_parser("reject", help="reject the redemptions of a number (nobody is "
                                              "linked; the number is told)")
    reject.add_argument("phone", metavar="PHONE")
    reject.set_defaults(handler=cmd_codes_reject)
