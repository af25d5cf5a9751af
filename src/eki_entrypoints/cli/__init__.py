"""The ``eki`` command line: one module per command group.

- :mod:`.common`: exit codes (0 ok, 2 usage or validation, 1 unreachable database or
  refused), :class:`CliError`, opening the application, JSON output, argument types;
- :mod:`.importing`: importing a file (students, progress, OneRoster share it);
  :mod:`.readahead` reads a file import's file while the rest of EKI loads;
- one module per group: :mod:`.db`, :mod:`.server` (``serve`` and ``worker``), :mod:`.chat`,
  :mod:`.demo`, :mod:`.handoff`, :mod:`.students`, :mod:`.progress`, :mod:`.oneroster`,
  :mod:`.imports`; :mod:`.app` builds the parser from them and runs a command.

User errors (bad input, unknown student, bad settings) print one line on stderr and exit 2;
an unreachable database exits 1. Never a traceback.

Importing this package loads nothing else: :func:`main` (the ``eki`` script) starts the
read-ahead of a file import, then loads the commands (``build_parser`` and ``run`` load
them when first used).
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eki_entrypoints.cli.app import build_parser, run

__all__ = ["build_parser", "main", "run"]


def main() -> None:
    """The ``eki`` script. A file import's file is first read ahead (:mod:`.readahead`).
    Loading the command (its group's module alone, :func:`.app.build_parser`; with what it
    uses, 500-850 modules: EKI, SQLAlchemy, psycopg) creates objects that
    live as long as the process: the cyclic collector would scan them again and again while
    they load and at every full collection afterwards. So it is paused while they load, and
    what they made is then frozen out of its sight (``gc.freeze``); it runs as usual for
    everything the command creates (a file import pauses it again: ``importing.no_gc``)."""
    from eki_entrypoints.cli.readahead import start_read_ahead

    gc.disable()
    argv = sys.argv[1:]
    read_ahead = start_read_ahead(argv)
    try:
        from eki_entrypoints.cli.app import command_modules, run

        command_modules(argv[0] if argv else None)  # the command's group, loaded here
    finally:
        gc.freeze()
        gc.enable()
    sys.exit(run(argv, read_ahead=read_ahead))


def __getattr__(name: str) -> Any:
    if name in ("build_parser", "run"):
        from eki_entrypoints.cli import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
