"""What every ``eki`` command shares: exit codes, one-line errors, opening the application,
JSON output and the argument types.

Exit codes: 0 done, 2 usage or validation (bad input, unknown student, bad settings), 1 the
database is unreachable or the work was refused (``--strict``). Errors are one line on
stderr, never a traceback (:func:`eki_entrypoints.cli.app.run` prints them).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from eki_domain.model.pagination import MAX_PAGE_SIZE
from eki_entrypoints.cli.args import region
from eki_entrypoints.settings import Settings

if TYPE_CHECKING:
    from eki_domain.ports.channel import MessageChannel
    from eki_entrypoints.bootstrap import Eki

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "CliError", "Handler", "concurrency",
           "non_negative", "open_eki", "page_size", "print_json", "region"]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

#: What a command that opens a server database behind the latest schema says.
SCHEMA_BEHIND = "the database schema is not up to date: run `eki db upgrade` first"

#: A command: ``(settings, parsed arguments) -> exit code`` (a coroutine is run on the loop).
Handler = Callable[[Settings, argparse.Namespace], "Coroutine[Any, Any, int] | int"]


class CliError(Exception):
    """A one-line message for the person at the terminal, with an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@asynccontextmanager
async def open_eki(settings: Settings, *, channel: MessageChannel | None = None,
                   warm_model: bool = False) -> AsyncIterator[Eki]:
    """Bootstrap for a CLI command: embedded SQLite is migrated on the fly,
    a server database must already be at the latest schema. ``warm_model``: train the intent
    classifier in the background from the start (the worker); other commands train it at
    their first message, if any (``eki chat``), so an import or a listing does not pay for it.
    The whole application is imported here, at the first command that opens it (a file
    import opens less: ``importing.open_importer``)."""
    from eki_entrypoints.bootstrap import bootstrap

    eki = await bootstrap(settings, auto_upgrade=settings.is_sqlite, channel=channel,
                          warm_model=warm_model)
    try:
        if not settings.is_sqlite and not await eki.migrations_at_head():
            raise CliError(SCHEMA_BEHIND)
        yield eki
    finally:
        await eki.aclose()


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


# -- argument types -----------------------------------------------------------------------


def page_size(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_PAGE_SIZE}")
    return value


def concurrency(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def non_negative(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
