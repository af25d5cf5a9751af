"""The ``eki`` command line: one module per command group.

- :mod:`.common`: exit codes (0 ok, 2 usage or validation, 1 unreachable database or
  refused), :class:`CliError`, opening the application, JSON output, argument types;
- :mod:`.importing`: importing a file (students, progress, OneRoster share it);
- one module per group: :mod:`.db`, :mod:`.server` (``serve`` and ``worker``), :mod:`.chat`,
  :mod:`.demo`, :mod:`.handoff`, :mod:`.students`, :mod:`.progress`, :mod:`.oneroster`,
  :mod:`.imports`; :mod:`.app` builds the parser from them and runs a command.

User errors (bad input, unknown student, bad settings) print one line on stderr and exit 2;
an unreachable database exits 1. Never a traceback.
"""

from __future__ import annotations

from eki_entrypoints.cli.app import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
