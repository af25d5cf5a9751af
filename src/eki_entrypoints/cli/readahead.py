"""Reading an import's file while the rest of EKI loads.

``eki students import FILE`` spends 0.5-0.8 s of CPU importing EKI, SQLAlchemy and psycopg
before it reads FILE, and calamine then spends ~0.45 s parsing a 100,000-row sheet in Rust
without holding the interpreter lock. So when the command line is a file import (``eki
students|guardians|consent|progress import``) whose arguments the parser accepts,
:func:`start_read_ahead` imports the spreadsheet reader, then reads and parses the file in a
thread with the same reader the import uses (same size check before the parse, same limits,
same Spanish errors) while the main thread imports the rest of EKI.
:func:`eki_entrypoints.cli.importing.import_file` takes the bytes and the sheet (or the
error) where it would have read and parsed the file itself, so what is printed, recorded in
the history and returned is what it was without the read-ahead.

Anything else — another command, ``--help``, an option or value the parser refuses — starts
nothing and reads nothing: the real parser then says what it says. This module imports
nothing of EKI at the top; the reader's modules are imported in the main thread before the
thread starts, so the two threads never import modules at the same time.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from eki_entrypoints.cli.args import CLI_MAX_IMPORT_BYTES, import_options, progress_options

if TYPE_CHECKING:
    from eki_adapters.spreadsheets.reader import CalamineSpreadsheetReader
    from eki_domain.model.imports import Sheet

#: The commands ``eki GROUP import FILE …`` whose file is read ahead, and their options
#: (the same functions build the real sub-commands).
READ_AHEAD_IMPORTS: dict[str, Callable[[argparse.ArgumentParser], None]] = {
    "students": import_options,
    "guardians": import_options,
    "consent": import_options,
    "progress": progress_options,
}


#: How long the main thread waits for the read-ahead to reach the parse (see
#: :func:`start_read_ahead`) before it goes on anyway (a slow disk, a pipe).
SIZE_CHECK_WAIT_SECONDS = 2.0


def cli_reader(before_parse: Callable[[], None] | None = None) -> CalamineSpreadsheetReader:
    """The reader of every CLI file import (the read-ahead's too, with ``before_parse``)."""
    from eki_adapters.spreadsheets.reader import CalamineSpreadsheetReader

    return CalamineSpreadsheetReader(max_bytes=CLI_MAX_IMPORT_BYTES, before_parse=before_parse)


class _Refused(Exception):
    """The arguments are not ones the real parser would accept: no read-ahead."""


class _SilentParser(argparse.ArgumentParser):
    """Never prints and never exits: what it refuses, the real parser reports."""

    def error(self, message: str) -> NoReturn:
        raise _Refused(message)

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _Refused(message)

    def print_help(self, file: object = None) -> NoReturn:  # -h / --help
        raise _Refused("help")

    def print_usage(self, file: object = None) -> NoReturn:
        raise _Refused("usage")


def accepted_import_file(argv: Sequence[str]) -> str | None:
    """FILE when ``argv`` is ``GROUP import …`` for a group of :data:`READ_AHEAD_IMPORTS`
    and the import's own options accept the rest (the same options build the real
    sub-command, so the real parser accepts it too); None otherwise."""
    if len(argv) < 3 or argv[1] != "import" or argv[0] not in READ_AHEAD_IMPORTS:
        return None
    parser = _SilentParser(prog=f"eki {argv[0]} import")
    READ_AHEAD_IMPORTS[argv[0]](parser)
    try:
        file = parser.parse_args(argv[2:]).file
    except _Refused:
        return None
    return file if isinstance(file, str) else None


class ReadAhead:
    """One file read and parsed in a thread; the results are taken with :meth:`data` and
    :meth:`sheet`, which wait for them and raise what reading or parsing raised."""

    def __init__(self, file: str) -> None:
        self.file = file
        self._parsing = threading.Event()
        self._reader = cli_reader(before_parse=self._parsing.set)
        self._data: bytes | None = None
        self._sheet: Sheet | None = None
        self._read_error: BaseException | None = None
        self._parse_error: BaseException | None = None
        self._read = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eki-read-ahead", daemon=True)

    def start(self) -> ReadAhead:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            try:
                self._data = Path(self.file).read_bytes()
            except BaseException as exc:  # raised again in the main thread by data()
                self._read_error = exc
                return
            finally:
                self._read.set()
            try:
                self._sheet = self._reader.read(self._data, Path(self.file).name)
            except BaseException as exc:  # raised again in the main thread by sheet()
                self._parse_error = exc
        finally:
            self._parsing.set()

    def wait_for_parse(self, timeout: float) -> None:
        """Until the workbook's sizes are checked and calamine parses it (or the read is
        over: a CSV, an error), at most ``timeout`` seconds."""
        self._parsing.wait(timeout)

    def data(self) -> bytes:
        """The file's bytes (what ``Path(file).read_bytes()`` returned or raised)."""
        self._read.wait()
        if self._read_error is not None:
            raise self._read_error
        assert self._data is not None
        return self._data

    def sheet(self) -> Sheet:
        """The parsed sheet (what ``cli_reader().read(data, name)`` returned or raised)."""
        self._thread.join()
        if self._read_error is not None:
            raise self._read_error
        if self._parse_error is not None:
            raise self._parse_error
        assert self._sheet is not None
        return self._sheet


def start_read_ahead(argv: Sequence[str]) -> ReadAhead | None:
    """Start reading the file of a file import (see the module's docstring); None, having
    read nothing, for any other command line."""
    file = accepted_import_file(argv)
    if file is None:
        return None
    ahead = ReadAhead(file)  # imports the reader's modules here, in the main thread
    ahead.start()
    # The size check before the parse holds the interpreter lock (~0.2 s for 100,000 rows):
    # shared with the imports below, it would take twice as long and the parse would start
    # late. Alone, it is over sooner and the parse runs beside all of the imports.
    ahead.wait_for_parse(SIZE_CHECK_WAIT_SECONDS)
    return ahead
