"""``eki demo``: a demo school and a scripted conversation, step by step."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from eki_entrypoints.cli.common import EXIT_OK, open_eki
from eki_entrypoints.settings import Settings


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from eki_adapters.whatsapp import ConsoleChannel
    from eki_entrypoints.demo import run_demo

    for name in ("eki.conversation", "eki.delivery", "eki.channel.console"):
        logging.getLogger(name).setLevel(logging.WARNING)
    channel = ConsoleChannel(name="cli")
    async with open_eki(settings, channel=channel) as eki:
        await run_demo(eki, channel, print)
    return EXIT_OK


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned."""
    demo = sub.add_parser(
        "demo", help="load a demo school and run a scripted conversation, step by step",
        description="Seeds three demo students (phones 300 111 0001-0003) with courses, "
        "grades and attendance into the configured database, then asks EKI the usual "
        "questions as one of them, printing tool calls, answers, tokens and cost. Uses the "
        "model when OPENAI_API_KEY is set, the rule-based responder otherwise.")
    demo.set_defaults(handler=cmd_demo)
