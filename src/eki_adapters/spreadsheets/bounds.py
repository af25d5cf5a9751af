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
from collections.abc import Iterator

import attrs

from eki_domain.model.imports import ImportFileError

#: Worksheet XML read from one upload at most (uncompressed; guards against zip bombs).
MAX_SHEET_XML_BYTES = 1024 * 1024 * 1024
#: The parts without cells (shared strings, styles, images…), uncompressed, at most:
#: calamine holds every shared string in memory (a 1 MB upload can unpack to gigabytes of
#: them). A 100,000-student list's shared strings take a few MB.
MAX_PARTS_BYTES = 128 * 1024 * 1024
#: The text one sheet may hand calamine, read in this process: its own XML (inline
#: strings) plus, for each cell, the longest shared string, each counted as the bytes
#: Python needs to hold it (:func:`_width`). calamine copies a shared string into every
#: cell that names it, and python-calamine once more into a Python string: an 18 KB
#: upload naming a 1 MB string from 3,000 cells asked for 6 GB. Beyond this a workbook is
#: read in the memory-capped child process (``isolated.py``). A 100,000-student list:
#: ~30 MB; a gradebook of a million results in 7 columns: ~400 MB (as much as the
#: worksheet XML budget, which bounded the inline text before).
MAX_TEXT_HERE = 1024 * 1024 * 1024
#: The rows Excel (and LibreOffice) can hold: the sheet limit, and with the cells what
#: bounds a sheet's tags.
SPREADSHEET_ROWS = 1_048_576
_CHUNK = 1024 * 1024
#: Where a cell is: ``<c r="B7" …>`` — also with single quotes, lower-case letters and
#: spaces around ``=``, all of which XML and calamine accept. The ``r`` attribute must
#: follow white space (``x:r`` or ``xr`` is not the position calamine reads). Self-closing
#: cells (``<c r="B7" s="1"/>``, a style) count too: no ``>`` inside a later attribute
#: value can then hide a cell, at the price of counting styled empty cells as used.
_CELL = re.compile(rb"""<c(?=\s)[^>]*?\sr\s*=\s*["']([^"'<>]*)["']""")
#: A cell without ``r`` before its tag's first ``>``: calamine places a cell without ``r``
#: after the previous cell of its row (``<c>``, ``<c t="n">``); and a ``>`` inside an
#: attribute value would hide the ``r`` that follows it from the pattern above.
_CELL_WITHOUT_REF = re.compile(rb"<c(?:[>/]|(?=\s)(?![^>]*?\sr\s*=))")
#: The part calamine reads its shared strings from (any case; ``\\`` or ``/``).
_SHARED_STRINGS = "xl/sharedstrings.xml"
#: Where a shared string starts: ``<si>``, with a namespace prefix or none (calamine reads
#: every element whose local name is ``si``).
_SHARED_STRING = re.compile(rb"<(?:[^\s<>/:!?]{1,64}:)?si(?=[\s/>])")
#: The UTF-8 bytes of text Python holds at one byte a character: ASCII, continuation bytes
#: and the lead bytes of Latin-1 letters ("é" is C3 A9). Any other lead byte makes Python
#: hold the whole string at two bytes a character (0xC4–0xEF) or four (0xF0–0xF4, emoji).
_ONE_BYTE = bytes(range(0xC4))
#: Every byte but ``<`` and ``>``: what is left of a part once these are deleted shows a
#: ``<`` inside a tag (a quoted attribute value, or a malformed tag) as ``<<``.
_NOT_ANGLES = bytes(b for b in range(256) if b not in b"<>")
#: Elements with a namespace prefix (``<x:c …>``) are read exactly (:func:`_exact_extent`).
_PREFIXED_CELL_HINT = b":c"
_REF_BYTES = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz "
_DIGITS = b"0123456789"
_LETTERS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_DIMENSION = re.compile(rb'<(?:[A-Za-z_][\w.-]*:)?dimension\b[^>]*?\bref\s*=\s*["\']'
                        rb'([A-Za-z]{1,4})?([0-9]{1,8})?:?([A-Za-z]{1,4})?([0-9]{1,8})?["\']')


@attrs.frozen
class SheetLimits:
    """The largest sheet an import reads (documented in docs/imports.md)."""

    rows: int = SPREADSHEET_ROWS  # a gradebook of a million results fits
    columns: int = 200
    cells: int = 10_000_000  # rows × columns of the used range

    @property
    def described(self) -> str:
        """The limits in the Spanish messages: "1.048.576 filas, 200 columnas y … celdas"."""
        return f"{_n(self.rows)} filas, {_n(self.columns)} columnas y {_n(self.cells)} celdas"

    def check(self, name: str, rows: int, columns: int) -> None:
        if rows > self.rows or columns > self.columns or rows * columns > self.cells:
            raise ImportFileError(
                f"Una hoja de «{name}» es demasiado grande: llega hasta la fila {_n(rows)} y "
                f"la columna {column_letters(columns)} ({_n(columns)} columnas). EKI lee "
                f"hojas de hasta {self.described}. Borre las filas y columnas vacías del "
                "final (o copie solo los datos a un libro nuevo) y vuelva a subirlo.",
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
    """Raise ImportFileError when a worksheet of this .xlsx/.xlsm exceeds ``limits``, or
    its other parts (shared strings above all, which calamine holds in memory) decompress
    to more than :data:`MAX_PARTS_BYTES`.

    Every part of the archive is read, whatever its name: calamine finds the worksheets
    through the workbook's relationships, so a sheet may live anywhere. True when the
    sizes were read and the workbook may be parsed here (an .xlsx/.xlsm whose sheets hand
    calamine at most :data:`MAX_TEXT_HERE` of text each); False for anything else —
    another zip (.ods, .xlsb), a damaged one, or one whose shared strings could fill its
    cells with more text than that — which must then be read in isolation.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    budget = MAX_SHEET_XML_BYTES
    parts = MAX_PARTS_BYTES
    sheets: list[tuple[int, int, int]] = []  # (cells, bytes of XML, width) of each sheet
    longest = width = 0  # the longest shared string, at most, and its width (_width)
    others: list[tuple[zipfile.ZipInfo, int]] = []  # parts without cells, their width
    with archive:
        members = archive.infolist()
        if not any(info.filename == "xl/workbook.xml" for info in members):
            return False  # not what calamine reads as .xlsx
        for info in members:
            try:
                rows, columns, cells, read, part_width = _extent(archive, info, budget,
                                                                  limits.cells)
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
                return False  # damaged: read in isolation, where calamine says so
            except _TooManyCells:
                raise ImportFileError(
                    f"Una hoja de «{name}» tiene más de {_n(limits.cells)} celdas: EKI lee "
                    f"hojas de hasta {limits.described}. Copie solo los datos a un libro "
                    "nuevo (o divídalo en varios archivos) y vuelva a subirlo.",
                    code="SHEET_TOO_LARGE") from None
            except _TooManyElements:
                raise ImportFileError(
                    f"Una hoja de «{name}» tiene más filas y celdas de las que caben en una "
                    f"hoja de cálculo: EKI lee hojas de hasta {limits.described}. Copie solo "
                    "los datos a un libro nuevo y vuelva a subirlo.",
                    code="SHEET_TOO_LARGE") from None
            budget -= read
            if rows or columns:
                limits.check(name, rows, columns)
                sheets.append((cells, read, part_width))
                if info.filename.replace("\\", "/").lstrip("/").lower() == _SHARED_STRINGS:
                    # calamine reads its shared strings from this name, cells or not (no
                    # writer puts cells there): count the whole part as one string.
                    longest, width = max(longest, read), max(width, part_width)
            else:
                parts -= read  # no cell: shared strings, styles, images…
                if read:
                    others.append((info, part_width))
            if budget <= 0 or parts < 0:
                raise ImportFileError(
                    f"«{name}» descomprimido es demasiado grande para una lista de "
                    "estudiantes. Copie solo los datos a un libro nuevo y vuelva a subirlo.",
                    code="SHEET_TOO_LARGE")
        try:
            for info, part_width in others:  # read again: only their strings' lengths
                part = archive.read(info)
                found = _longest_shared_string(part)
                if found:
                    longest, width = max(longest, found), max(width, part_width)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError):
            return False
    return all(read * sheet_width + cells * longest * width <= MAX_TEXT_HERE
               for cells, read, sheet_width in sheets)


def _width(utf8: bytes) -> int:
    """The bytes a character of this text takes in Python, at most (1, 2 or 4): times
    its UTF-8 length, an upper bound of what Python needs to hold it."""
    wider = utf8.translate(None, _ONE_BYTE)
    return 1 if not wider else 4 if max(wider) >= 0xF0 else 2


def _longest_shared_string(xml: bytes) -> int:
    """An upper bound of the longest shared string in this part (0 if it has none): the
    longest stretch from one ``<si`` to the next — or the whole part, where something could
    hide an ``<si`` inside a string (or text between two of them): a comment, a CDATA
    section, a declaration, a processing instruction, a ``<`` inside a tag."""
    if b":si" not in xml and xml.count(b"<si") == xml.count(b"<si>"):
        pieces = xml.split(b"<si>")  # as every writer spells it: 7x faster than the pattern
    else:
        pieces = _SHARED_STRING.split(xml)
    if len(pieces) == 1:
        return 0
    head = xml[:512].lstrip(b"\xef\xbb\xbf \t\r\n")  # a byte-order mark, white space
    start = xml.find(b"?>", 0, 512) + 2 if head.startswith(b"<?xml") else 0  # the declaration
    if (xml.find(b"<!", start) >= 0 or xml.find(b"<?", start) >= 0
            or b"<<" in xml.translate(None, _NOT_ANGLES)):
        return len(xml)
    return max(map(len, pieces[1:]))


class _Irregular(Exception):
    """The sheet needs the exact reading (:func:`_exact_extent`)."""


class _TooManyCells(Exception):
    """More cells than :attr:`SheetLimits.cells`, wherever they are."""


class _TooManyElements(Exception):
    """More row and cell tags than any sheet within the limits has (empty rows, closing
    tags): each costs the exact reading a step of Python."""


class _Chunks:
    """A worksheet's XML in chunks of :data:`_CHUNK` bytes, at most ``budget`` of them
    uncompressed (``read`` counts them; it equals the budget once that is spent). An
    element cut by a chunk's end is given again at the start of the next chunk, however
    long (a cell padded with attributes must not slip between two chunks); one longer
    than a chunk is no spreadsheet's: ValueError, read in isolation. ``declared`` is the
    sheet's ``<dimension>`` (rows, columns), read in the first chunk; ``width`` the most
    bytes Python takes for one of its characters (:func:`_width`)."""

    def __init__(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> None:
        self._archive, self._info, self._budget = archive, info, budget
        self.read = 0
        self.declared = (0, 0)
        self.width = 1  # Python's bytes per character of the text read (_width)

    def __iter__(self) -> Iterator[bytes]:
        tail = b""
        with self._archive.open(self._info) as stream:
            while self.read < self._budget:
                chunk = stream.read(_CHUNK)
                if not chunk:
                    return
                if not self.read:
                    self.declared = _dimension(chunk)
                self.read += len(chunk)
                if self.width < 4:
                    self.width = max(self.width, _width(chunk))
                text = tail + chunk
                yield text
                tail = text[_complete(text):]
                if len(tail) > _CHUNK:
                    raise ValueError("an element longer than a chunk")
            self.read = self._budget


def _complete(text: bytes) -> int:
    """Where a chunk's complete elements end: before a tag its end cuts (a ``<`` with no
    ``>`` after it), which :class:`_Chunks` gives again at the next chunk's start."""
    cut = text.rfind(b"<")
    return cut if cut >= 0 and text.find(b">", cut) < 0 else len(text)


def _dimension(text: bytes) -> tuple[int, int]:
    """(rows, columns) of the sheet's declared ``<dimension>`` (0 where it says none)."""
    rows = columns = 0
    found = _DIMENSION.search(text)
    if found is not None:
        for letters, digits in ((found[1], found[2]), (found[3], found[4])):
            if letters:
                columns = max(columns, column_number(letters.upper()))
            if digits:
                rows = max(rows, int(digits))
    return rows, columns


def _extent(archive: zipfile.ZipFile, info: zipfile.ZipInfo,
            budget: int, max_cells: int) -> tuple[int, int, int, int, int]:
    """(last row, last column, cells, bytes read, width) of the cells with content, or of
    the declared dimension when larger: :func:`_quick_extent` for the sheets every
    spreadsheet program writes, :func:`_exact_extent` for any other."""
    chunks = _Chunks(archive, info, budget)
    try:
        rows, columns, cells = _quick_extent(chunks, max_cells)
    except _Irregular:
        chunks = _Chunks(archive, info, budget)
        rows, columns, cells = _exact_extent(chunks, max_cells)
    return (max(rows, chunks.declared[0]), max(columns, chunks.declared[1]), cells,
            chunks.read, chunks.width)


def _quick_extent(chunks: _Chunks, max_cells: int) -> tuple[int, int, int]:
    """Every cell with content carries its position (``r="B7"``): the largest row and
    column among them, and how many cells there are. 100,000 rows are 400,000 cells: no
    Python work per cell, the references of a chunk in one buffer, then its distinct
    columns and its largest row.
    Raises :class:`_Irregular` at the first chunk that holds what it cannot read."""
    rows = columns = cells = 0
    for text in chunks:
        # A cell tag cut by the chunk's end (``<c r``…) is read whole in the next chunk:
        # seen here, it would look like a cell without a reference.
        end = _complete(text)
        if text.find(_PREFIXED_CELL_HINT, 0, end) >= 0 or _CELL_WITHOUT_REF.search(text, 0, end):
            raise _Irregular
        found = _CELL.findall(text, 0, end)
        cells += len(found)
        if cells > max_cells:
            raise _TooManyCells
        refs = b" ".join(found)
        if not refs.strip():
            continue
        if refs.translate(None, _REF_BYTES):
            raise _Irregular  # a position that is not letters and digits
        columns = max(columns, 0, *(column_number(letters.upper()) for letters in
                                    set(refs.translate(None, _DIGITS).split())))
        digits = refs.translate(None, _LETTERS)
        if digits.startswith(b"0") or b" 0" in digits:
            raise _Irregular  # "A0600": compared below as text, it would look small
        # Without leading zeros the longest numbers are the largest, and among numbers of
        # one length the order of the text is the order of the numbers.
        numbers = digits.split()
        if not numbers:
            continue
        longest = max(map(len, numbers))
        rows = max(rows, int(max(n for n in numbers if len(n) == longest)))
    return rows, columns, cells


#: A row or cell tag, with a namespace prefix or none, its attributes read up to the
#: ``>`` that really closes it (quoted values may hold ``>``; none may hold ``<``, so no
#: match runs past the next tag).
_TAG = re.compile(rb"<(/?)(?:[^\s/<>:]{1,64}:)?(row|c)(?=[\s/>])"
                  rb"((?:[^>\"'<]+|\"[^\"<]*\"|'[^'<]*')*)>")
_R_VALUE = re.compile(rb"""\sr\s*=\s*(?:"([^"<]*)"|'([^'<]*)')""")
#: Letters then digits; anything else in a cell's ``r`` makes calamine fail the sheet.
_POSITION = re.compile(rb"([A-Za-z]*)([0-9]*)")


def _exact_extent(chunks: _Chunks, max_cells: int) -> tuple[int, int, int]:
    """Where calamine puts each cell, as it does: a cell's ``r`` if it has one, else the
    column after the previous cell of its row; a row's ``r`` if it has one, else the row
    after the previous one. Self-closing cells hold nothing; self-closing rows move
    nothing. About 2 s per 100,000 rows of 4 cells: for the sheets :func:`_quick_extent`
    cannot read."""
    rows = columns = cells = tags = 0
    row = column = 0  # calamine's zero-based counters
    max_tags = 2 * (max_cells + SPREADSHEET_ROWS)  # each cell and row opened and closed
    for text in chunks:
        for tag in _TAG.finditer(text):
            tags += 1
            if tags > max_tags:
                raise _TooManyElements
            closing, name, attributes = tag.groups()
            if closing:
                if name == b"row":
                    row, column = row + 1, 0
                continue
            if attributes.endswith(b"/"):
                continue
            value = _R_VALUE.search(attributes)
            position = None if value is None else (value[1] if value[1] is not None
                                                   else value[2])
            found = None if position is None else _POSITION.fullmatch(position)
            if name == b"row":
                if found is not None and found[2]:
                    row = int(found[2]) - 1
                continue
            cells += 1
            if cells > max_cells:
                raise _TooManyCells
            if found is not None and found[1] and found[2]:
                cell_row, column = int(found[2]) - 1, column_number(found[1].upper()) - 1
            else:
                cell_row = row  # calamine refuses the sheet: counted where it would be
            rows, columns = max(rows, cell_row + 1), max(columns, column + 1)
            column += 1
    return rows, columns, cells
