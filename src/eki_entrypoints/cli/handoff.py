"""``eki handoff list`` and ``eki handoff release``: conversations handed to a person."""

from __future__ import annotations

import argparse
from typing import Any

from eki_entrypoints.cli.common import EXIT_OK, open_eki
from eki_entrypoints.settings import Settings


async def cmd_handoff_release(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki:
        student = await eki.registration.find(args.phone)
        assert student.id is not None
        released = await eki.conversation.release_handoff(student.id, by="cli")
    print("El asistente vuelve a responder a " + student.name + "." if released else
          f"{student.name} no tenía una conversación con un asesor abierta.")
    return EXIT_OK


async def cmd_handoff_list(settings: Settings, args: argparse.Namespace) -> int:
    async with open_eki(settings) as eki, eki.uow() as uow:
        open_ = await uow.conversations.open_handoffs()
        names = {sid: await uow.students.get(sid) for sid, _, _ in open_}
    if not open_:
        print("No hay conversaciones esperando a un asesor.")
    for sid, _wa_id, at in open_:
        student = names.get(sid)
        label = f"{student.name} ({student.phone.e164})" if student else f"id {sid}"
        print(f"{at:%Y-%m-%d %H:%M} {label}")
    return EXIT_OK


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    handoff = sub.add_parser("handoff", help="conversations handed to a person").add_subparsers(
        dest="handoff_command", required=True, metavar="ACTION")
    release = handoff.add_parser("release", help="give the conversation back to the bot")
    release.add_argument("phone", metavar="PHONE")
    release.set_defaults(handler=cmd_handoff_release)
    handoff.add_parser("list", help="open hand-offs, oldest first").set_defaults(
        handler=cmd_handoff_list)
