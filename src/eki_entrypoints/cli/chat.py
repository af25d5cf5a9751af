"""``eki chat``: talk to EKI as a student from the terminal, through the same pipeline."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from eki_entrypoints.cli.common import EXIT_OK, open_eki, print_json
from eki_entrypoints.settings import Settings


async def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from eki_adapters.whatsapp import ConsoleChannel
    from eki_entrypoints.chat import ChatSession

    channel = ConsoleChannel(name="cli")
    async with open_eki(settings, channel=channel) as eki:
        session = await ChatSession.open(eki, channel, args.phone)
        if args.message is not None:
            answer = await session.say(args.message)
            if args.json:
                print_json({"reply": answer.reply, "intent": answer.intent,
                            "tools": list(answer.tools), "about": answer.about})
            else:
                print(answer.reply)
            return EXIT_OK
        print(f"Chateando como {session.label}. Escribe /salir para terminar.", file=sys.stderr)
        while True:
            try:
                line = await asyncio.to_thread(input, "> ")
            except EOFError:
                return EXIT_OK
            if line.strip().lower() in {"/salir", "/exit", "/quit"}:
                return EXIT_OK
            if not line.strip():
                continue
            answer = await session.say(line)
            print(answer.reply or "(sin respuesta)")
    return EXIT_OK  # pragma: no cover - the loop only ends by returning


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    chat = sub.add_parser(
        "chat", help="talk to EKI as a student from the terminal (the same pipeline)",
        description="Each message goes through the inbox, the conversation service and the "
        "outbox like a WhatsApp message would, but the reply is printed here instead of "
        "being sent.")
    chat.add_argument("--phone", required=True, help="the student's phone, any format")
    chat.add_argument("--message", help="send one message and exit (default: interactive)")
    chat.add_argument("--json", action="store_true",
                      help='print {"reply", "intent", "tools", "about"} for scripts')
    chat.set_defaults(handler=cmd_chat)
