"""The ``eki`` parser and runner: each command group adds itself with ``add_parser(sub)``.

A new group is one new module in this package with ``add_parser`` (and its ``cmd_*``
handlers), listed in :data:`GROUPS` with the commands it adds.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError, OperationalError

from eki_domain import __version__
from eki_domain.errors import EkiError
from eki_entrypoints import loops
from eki_entrypoints.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from eki_entrypoints.logs import configure_logging
from eki_entrypoints.settings import Settings, SettingsError

if TYPE_CHECKING:
    from eki_entrypoints.cli.readahead import ReadAhead

#: The command groups, in the order ``eki --help`` lists them: the module of this package
#: and the commands its ``add_parser`` adds.
GROUPS: dict[str, tuple[str, ...]] = {
    "db": ("db",), "server": ("serve", "worker"), "chat": ("chat",), "demo": ("demo",),
    "handoff": ("handoff",), "students": ("students",), "progress": ("progress",),
    "oneroster": ("oneroster",), "imports": ("imports",), "intents": ("intents",),
    "staff": ("staff",), "audit": ("audit",), "guardians": ("guardians",),
    "codes": ("codes",), "templates": ("templates",), "send": ("send",),
    "consent": ("consent",), "privacy": ("privacy",), "broadcasts": ("broadcast",),
    "alerts": ("alerts",),
}
#: Every command, and the module that adds it.
COMMANDS = {command: module for module, commands in GROUPS.items() for command in commands}


def command_modules(command: str | None = None) -> list[ModuleType]:
    """The command groups' modules :func:`build_parser` uses for ``command`` (imported)."""
    only = COMMANDS.get(command) if command is not None else None
    return [importlib.import_module(f"eki_entrypoints.cli.{module}")
            for module in (GROUPS if only is None else (only,))]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``eki`` parser. ``command``: the first word of the command line. When it is a
    command, only the module that adds it is imported and only its commands are added: the
    parser reads that command line exactly as the whole parser would (the other commands
    are never reached; ``eki --help`` and a mistyped command get every command)."""
    parser = argparse.ArgumentParser(
        prog="eki",
        description="EKI: the WhatsApp assistant for schools. Settings come from EKI_* "
        "environment variables (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"eki {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in command_modules(command):
        module.add_parser(sub)
    return parser


def run(argv: Sequence[str] | None = None, *, read_ahead: ReadAhead | None = None) -> int:
    """Run one command. ``read_ahead``: the file of a file import, already being read
    (:func:`eki_entrypoints.cli.readahead.start_read_ahead` of the same ``argv``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    if read_ahead is not None and getattr(args, "file", None) == read_ahead.file \
            and hasattr(args, "read_ahead"):
        args.read_ahead = read_ahead
    try:
        settings = Settings.from_env()
        configure_logging(settings)
        result = args.handler(settings, args)
        if asyncio.iscoroutine(result):
            result = loops.run(result, settings.event_loop)
        return int(result)
    except SettingsError as exc:
        print(f"eki: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EkiError as exc:
        print(f"eki: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"eki: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return EXIT_OK  # e.g. `eki students list | head`
    except (OperationalError, DBAPIError, OSError) as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"eki: cannot use the database: {detail}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def main() -> None:
    from eki_entrypoints.cli import main as cli_main

    cli_main()
