"""The ``eki`` parser and runner: each command group adds itself with ``add_parser(sub)``.

A new group is one new module in this package with ``add_parser`` (and its ``cmd_*``
handlers), listed in :data:`GROUPS`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.exc import DBAPIError, OperationalError

from eki_domain import __version__
from eki_domain.errors import EkiError
from eki_entrypoints import loops
from eki_entrypoints.cli import (
    alerts,
    audit,
    broadcasts,
    chat,
    codes,
    consent,
    db,
    demo,
    guardians,
    handoff,
    imports,
    intents,
    oneroster,
    privacy,
    progress,
    send,
    server,
    staff,
    students,
    templates,
)
from eki_entrypoints.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from eki_entrypoints.logs import configure_logging
from eki_entrypoints.settings import Settings, SettingsError

if TYPE_CHECKING:
    from eki_entrypoints.cli.readahead import ReadAhead

#: The command groups, in the order ``eki --help`` lists them.
GROUPS = (db, server, chat, demo, handoff, students, progress, oneroster, imports, intents,
          staff, audit, guardians, codes, templates, send, consent, privacy, broadcasts,
          alerts)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eki",
        description="EKI: the WhatsApp assistant for schools. Settings come from EKI_* "
        "environment variables (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"eki {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.add_parser(sub)
    return parser


def run(argv: Sequence[str] | None = None, *, read_ahead: ReadAhead | None = None) -> int:
    """Run one command. ``read_ahead``: the file of a file import, already being read
    (:func:`eki_entrypoints.cli.readahead.start_read_ahead` of the same ``argv``)."""
    parser = build_parser()
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
