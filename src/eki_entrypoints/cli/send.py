"""``eki send PHONE --text … | --template NAME``: a person of the school writes to a student.

Same rules as the API: free text only inside WhatsApp's 24-hour window (exit 2 with the
reason when it closed), templates only when approved; the message goes through the outbox
(the worker sends it) and the conversation is taken over (the bot pauses). ``--as EMAIL``
acts as that staff account (its role applies, the hand-off is assigned to it); without it,
the operator of the machine (``cli:<user>``) acts.
"""

from __future__ import annotations

import argparse
from typing import Any

from eki_domain.errors import StaffNotFound
from eki_domain.model.permissions import Principal
from eki_domain.services.staff import Caller
from eki_domain.services.staff_messages import TemplateChoice
from eki_entrypoints.cli.common import EXIT_OK, CliError, open_eki, print_json
from eki_entrypoints.cli.staff import cli_caller
from eki_entrypoints.settings import Settings


async def cmd_send(settings: Settings, args: argparse.Namespace) -> int:
    if (args.text is None) == (args.template is None):
        raise CliError("give --text or --template (one of them)")
    if args.text is not None and args.param:
        raise CliError("--param goes with --template")
    async with open_eki(settings) as eki:
        caller = cli_caller()
        if args.as_ is not None:
            try:
                member = await eki.staff.get(args.as_)
            except StaffNotFound as exc:
                raise CliError(exc.message) from None
            if not member.active:
                raise CliError(f"la cuenta {member.email} está desactivada")
            caller = Caller(Principal.staff(member), user_agent="eki-cli")
        student = await eki.registration.find(args.phone)
        template = (TemplateChoice(args.template, args.lang, tuple(args.param or ()))
                    if args.template is not None else None)
        queued = await eki.staff_messages.send(caller, student, text=args.text,
                                               template=template)
    if args.json:
        print_json({"id": queued.id, "state": queued.state, "student_id": queued.student_id,
                    "took_over": queued.took_over, "template": queued.template,
                    "window_left_seconds": int(queued.window_left.total_seconds())})
        return EXIT_OK
    kind = f"plantilla «{queued.template}»" if queued.template else "mensaje"
    print(f"{kind[0].upper()}{kind[1:]} en cola para {student.name} (id {queued.id}); el "
          "proceso `eki worker` o `eki serve` lo envía.")
    if queued.took_over:
        print("La conversación pasó a atención humana: el bot no responde hasta que se "
              "devuelva (`eki handoff release`).")
    return EXIT_OK


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    send = sub.add_parser(
        "send", help="write to a student as school staff (takes the conversation over)",
        description="Queue a message to a student. Free text only within 24 hours of the "
                    "student's last message; otherwise an approved template "
                    "(docs/whatsapp.md).")
    send.add_argument("phone", metavar="PHONE")
    send.add_argument("--text", help="the message (inside the 24-hour window)")
    send.add_argument("--template", metavar="NAME", help="an approved template")
    send.add_argument("--lang", default="es", help="the template's language (default es)")
    send.add_argument("--param", action="append", metavar="P",
                      help="the template's next parameter ({{1}}, {{2}}…; repeatable)")
    send.add_argument("--as", dest="as_", metavar="EMAIL",
                      help="act as this staff account (default: the machine's operator)")
    send.add_argument("--json", action="store_true")
    send.set_defaults(handler=cmd_send)
