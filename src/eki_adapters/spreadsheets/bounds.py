"""The size of a workbook's sheets, read before anything is loaded.

python-calamine materialises a sheet as a dense grid from its first to its last cell: a
5 KB .xlsx with one value in A1 and one in XFD1048576 asks for 512 GiB and aborts the
process. So before calamine opens an .xlsx/.xlsm, :func:`check_xlsx_bounds` streams each
worksheet's XML (never more than :data:`MAX_SHEET_XML_BYTES` uncompressed) and reads
where its cells really are, and the declared ``<dimension>``; a sheet beyond
:class:`SheetLimits` is refused with a Spanish message (``SHEET_TOO_LARGE``).

Other workbook formats (.xls, .xlsb, .ods), whose sizes cannot be read this cheaply, are
parsed in a memory-capped child process (``isolated.py``) that checks the same limits.
"""

from __future__ import annotations

import io
import re
import zipfile

import attrs

from eki_domain.model.imports import ImportFileError

#: Worksheet XML read from one upload at most (uncompressed; guards against zip bombs).
MAX_SHEET_XML_BYTES = 1024 * 1024 * 1024
_CHUNK = 1024 * 1024
#: A cell with content: ``<c r="B7" …>`` (a self-closing ``<c …/>`` is only a style) —
#: also with a namespace prefix (``<x:c …>``), single quotes and lower-case letters, all of
#: which XML and calamine accept. (The tail is greedy: ``[^>]`` cannot pass the first
#: ``>``, so it is the same match as a lazy one, found without a look-behind at every
#: character.)
_REF = rb'[^>]*?\br\s*=\s*["\']([A-Za-z]{1,4}[0-9]{1,8})["\'][^>]*(?<!/)>'
_CELL = re.compile(rb"<c\b" + _REF)
#: The same with any prefix: slower, used on the chunks that hold a ``:c`` at all.
_PREFIXED_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c\b" + _REF)
_DIGITS = b"0123456789"
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*?\bref\s*=\s*["\']'
                        rb'([A-Za-z]{1,4})?([0-9]{1,8})?:?([A-Za-z]{1,4})?([0-9]{1,8})?["\']')


@attrs.frozen
class SheetLimits:
    """The largest sheet an import reads (documented in docs/imports.md)."""

    rows: int = 500_000
    columns: int = 200
    cells: int = 5_000_000  # rows × columns of the used range

    def check(self, name: str, rows: int, columns: int) -> None:
        if rows > self.rows or columns > self.columns or rows * columns > self.cells:
            raise ImportFileError(
                f"Una hoja de «{name}» es demasiado grande: llega hasta la fila {_n(rows)} y "
                f"la columna {column_letters(columns)} ({_n(columns)} columnas). EKI lee "
                f"hojas de hasta {_n(self.rows)} filas, {_n(self.columns)} columnas y "
                f"{_n(self.cells)} celdas. Borre las filas y columnas vacías del final (o "
                "copie solo los datos a un libro nuevo) y vuelva a subirlo.",
                code="SHEET_TOO_LARGE")


def _n(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def column_number(letters: bytes) -> int:
    number = 0
    for byte in letters:
        number = number * 26 + (byte - 64)
    return number


def column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters or "A"


def check_xlsx_bounds(data: bytes, name: str, limits: SheetLimits) -> bool:
    """Raise ImportFileError when a worksheet of this .xlsx/.xlsm exceeds ``limits``.

    True when the sizes were read (an .xlsx/.xlsm); False for anything else — another
    zip (.ods, .xlsb) or a damaged one — which must then be read in isolation.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    budget = MAX_SHEET_XML_BYTES
    checked = False
    with archive:
        for info in archive.infolist():
            if not (info.filename.startswith("xl/worksheets/")
                    and info.filename.endswith(".xml")):
                continue
            try:
                rows, columns, read = _extent(archive, info, budget)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
                return False  # damaged: read in isolation, where calamine says so
            checked = True
            budget -= read
            limits.check(name, rows, columns)
            if budget <= 0:
                raise ImportFileError(
                    f"«{name}» descomprimido es demasiado grande para una lista de "
                    "estudiantes. Copie solo los datos a un libro nuevo y vuelva a subirlo.",
                    code="SHEET_TOO_LARGE")
    return checked


def _extent(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
            budget: int) -> tuple[int, int, int]:
    """(last row, last column, bytes read) of the cells with content, or of the declared
    dimension when larger."""
    rows = columns = read = 0
    tail = b""
    with archive.open(info) as stream:
        while read < budget:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            read += len(chunk)
            text = tail + chunk
            if read == len(chunk):
                dimension = _DIMENSION.search(text)
                if dimension is not None:
                    for letters, digits in ((dimension[1], dimension[2]),
                                            (dimension[3], dimension[4])):
                        if letters:
                            columns = max(columns, column_number(letters.upper()))
                        if digits:
                            rows = max(rows, int(digits))
            # 100,000 rows are 400,000 cells: no Python work per cell. The references of
            # this chunk in one buffer, then its distinct columns and its largest row.
            cells = _PREFIXED_CELL if b":c" in text else _CELL
            refs = b" ".join(cells.findall(text))
            if refs:
                columns = max(columns, *(column_number(letters.upper()) for letters in
                                         set(refs.translate(None, _DIGITS).split())))
                rows = max(rows, *map(int, refs.translate(None, _LETTERS).split()))
            # The element cut by the chunk's end goes on with the next chunk, however long
            # (a cell padded with attributes must not slip between two chunks); one longer
            # than a chunk is no spreadsheet's: read in isolation.
            cut = text.rfind(b"<")
            tail = text[cut:] if cut >= 0 and text.find(b">", cut) < 0 else b""
            if len(tail) > _CHUNK:
                raise ValueError("an element longer than a chunk")
        else:
            read = budget
    return rows, columns, read
