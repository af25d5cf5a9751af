"""The child process of :mod:`eki_adapters.spreadsheets.isolated`: read one workbook from
standard input under a memory ceiling, check the sheet limits, answer with JSON."""

from __future__ import annotations

import json
import sys

from eki_adapters.spreadsheets.bounds import SheetLimits
from eki_adapters.spreadsheets.isolated import CHILD_MEMORY_BYTES, REFUSED
from eki_adapters.spreadsheets.reader import CalamineSpreadsheetReader
from eki_domain.model.imports import ImportFileError


def main() -> int:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY_BYTES, CHILD_MEMORY_BYTES))
    name, digest, rows, columns, cells = sys.argv[1:6]
    data = sys.stdin.buffer.read()
    reader = CalamineSpreadsheetReader(
        limits=SheetLimits(rows=int(rows), columns=int(columns), cells=int(cells)))
    try:
        sheet = reader.read_workbook_here(data, name, digest)
    except ImportFileError as exc:
        sys.stdout.write(json.dumps({"code": exc.code, "message": exc.message}))
        return REFUSED
    sys.stdout.write(json.dumps({"sheet": sheet.sheet_name,
                                 "rows": [[n, list(c)] for n, c in sheet.rows]},
                                default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
