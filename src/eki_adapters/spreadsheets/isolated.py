"""Workbooks whose sheet sizes cannot be read cheaply beforehand (.xls, .xlsb, .ods) are
parsed in a child process with a memory ceiling: a hostile file that makes calamine ask for
gigabytes ends that child, never the server. The child checks :class:`SheetLimits` on the
sheet it loaded and sends the rows back as JSON (never pickle: the child parsed hostile
bytes, so what it sends is treated as data)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from eki_adapters.spreadsheets.bounds import SheetLimits
from eki_domain.model.imports import ImportFileError, Sheet

#: Address space of the child (calamine, Python and the file).
CHILD_MEMORY_BYTES = 512 * 1024 * 1024
CHILD_SECONDS = 120
#: The child's exit code when it refused the file (its answer says why).
REFUSED = 3


def read_isolated(data: bytes, name: str, digest: str, limits: SheetLimits) -> Sheet:
    argv = [sys.executable, "-m", "eki_adapters.spreadsheets.isolated_child", name, digest,
            str(limits.rows), str(limits.columns), str(limits.cells)]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH", "LANG", "HOME")}
    try:
        done = subprocess.run(argv, input=data, capture_output=True, timeout=CHILD_SECONDS,  # noqa: S603 (no shell)
                              check=False, env=env)
    except subprocess.TimeoutExpired:
        raise ImportFileError(f"«{name}» tardó demasiado en leerse: es demasiado grande o está "
                              "dañado. Guárdelo como «Libro de Excel (.xlsx)» o CSV y vuelva "
                              "a subirlo.", code="SHEET_TOO_LARGE") from None
    if done.returncode in (0, REFUSED):
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            answer = None
        if isinstance(answer, dict) and done.returncode == REFUSED:
            raise ImportFileError(str(answer.get("message", "")),
                                  code=str(answer.get("code", "CORRUPT_FILE")))
        if isinstance(answer, dict) and isinstance(answer.get("rows"), list):
            return Sheet(filename=name, sha256=digest, sheet_name=answer.get("sheet"),
                         rows=[(int(number), list(cells)) for number, cells in answer["rows"]])
    raise ImportFileError(
        f"No se pudo leer «{name}»: es demasiado grande para la memoria disponible o está "
        "dañado. Borre las filas y columnas vacías del final, o guárdelo como «Libro de "
        "Excel (.xlsx)» o CSV, y vuelva a subirlo.", code="SHEET_TOO_LARGE")
