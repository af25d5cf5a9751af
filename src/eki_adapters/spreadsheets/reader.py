"""``CalamineSpreadsheetReader``: any file a school office produces → a :class:`Sheet`.

The format is decided by the bytes, not the name, so a CSV renamed ``.xlsx`` or
an HTML page saved as ``.xls`` gets a clear message instead of garbage.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from pathlib import PurePath
from typing import Any

import python_calamine

from eki_adapters.spreadsheets.bounds import SheetLimits, check_xlsx_bounds
from eki_adapters.spreadsheets.isolated import read_isolated
from eki_domain.model.imports import ImportFileError, Sheet, sheet_from_records

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
CSV_DELIMITERS = (",", ";", "\t", "|")
ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SPREADSHEET_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"}
TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}

_SAVE_AS = "Ábralo en Excel y use «Guardar como» → «Libro de Excel (.xlsx)» o «CSV UTF-8»."


def _error(message: str, code: str) -> ImportFileError:
    return ImportFileError(message, code=code)


def _cells(row: list[Any]) -> list[Any]:
    """Calamine returns every number as float: integer-valued ones become int again
    (``3001234567.0`` → ``3001234567``); empty strings become None; dates ISO text.
    Rewrites calamine's own list in place: it runs for every cell of 100,000-row files."""
    for index, value in enumerate(row):
        kind = type(value)
        if kind is str:
            if not value:
                row[index] = None
        elif kind is float:
            if value.is_integer():
                row[index] = int(value)
        elif isinstance(value, datetime | date | time):
            row[index] = value.isoformat()
    return row


class CalamineSpreadsheetReader:
    """Reads .xlsx/.xlsm/.xls/.xlsb/.ods with python-calamine, .csv/.txt/.tsv with
    encoding and delimiter detection, and a JSON array of objects."""

    def __init__(self, max_bytes: int = MAX_UPLOAD_BYTES,
                 limits: SheetLimits | None = None,
                 before_parse: Callable[[], None] | None = None) -> None:
        self.max_bytes = max_bytes
        self.limits = limits or SheetLimits()
        #: Called when a workbook's sizes are checked, right before it is parsed (by
        #: calamine, which releases the interpreter lock, or in a child process): the CLI
        #: reads a file in a thread and lets its main thread go on from there
        #: (``eki_entrypoints/cli/readahead.py``).
        self.before_parse = before_parse

    def read(self, data: bytes, filename: str) -> Sheet:
        name = PurePath(filename or "archivo").name
        suffix = PurePath(name).suffix.lower()
        if not data or not data.strip():
            raise _error(f"El archivo «{name}» está vacío (0 datos). Revise que lo guardó "
                         "antes de subirlo.", "EMPTY_FILE")
        if len(data) > self.max_bytes:
            raise _error(f"El archivo «{name}» pesa {len(data) // (1024 * 1024)} MB; el máximo "
                         f"es {self.max_bytes // (1024 * 1024)} MB. Divídalo en varios archivos.",
                         "FILE_TOO_LARGE")
        digest = hashlib.sha256(data).hexdigest()
        if data.startswith(ZIP_MAGIC) or data.startswith(OLE_MAGIC):
            return self._read_workbook(data, name, digest)
        if b"\x00" in data[:4096]:
            raise _error(f"«{name}» no es una hoja de cálculo ni un CSV que EKI pueda leer. "
                         + _SAVE_AS, "WRONG_FORMAT")
        text = _decode(data)
        head = text.lstrip()[:512].lower()
        if head.startswith("<"):
            kind = "una página web (HTML)" if ("<html" in head or "<table" in head
                                                or "<!doctype" in head) else "un documento XML"
            raise _error(f"«{name}» es {kind} guardada con otra extensión, no un Excel real. "
                         + _SAVE_AS, "WRONG_FORMAT")
        if suffix == ".json" or head.startswith(("[", "{")):
            return self._read_json(text, name, digest)
        if suffix in SPREADSHEET_SUFFIXES:
            raise _error(f"«{name}» se llama {suffix} pero en realidad es texto (un CSV "
                         "renombrado). Cámbiele la extensión a .csv, o ábralo en Excel y "
                         "guárdelo como «Libro de Excel (.xlsx)».", "WRONG_FORMAT")
        return Sheet(filename=name, sha256=digest, rows=_read_csv(text, name, self.limits))

    def _read_workbook(self, data: bytes, name: str, digest: str) -> Sheet:
        """.xlsx/.xlsm here once their sheet sizes are checked; other workbooks (.xls,
        .xlsb, .ods) in a memory-capped child process (``isolated.py``)."""
        here = data.startswith(ZIP_MAGIC) and check_xlsx_bounds(data, name, self.limits)
        if self.before_parse is not None:
            self.before_parse()
        if here:
            return self.read_workbook_here(data, name, digest)
        return read_isolated(data, name, digest, self.limits)

    def read_workbook_here(self, data: bytes, name: str, digest: str) -> Sheet:
        """Parse a workbook in this process (sizes already checked, or in the child)."""
        try:
            workbook = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        except python_calamine.PasswordError:
            raise _encrypted(name) from None
        except Exception as exc:
            if data.startswith(OLE_MAGIC) and "EncryptedPackage".encode("utf-16-le") in data:
                raise _encrypted(name) from None
            raise _error(f"No se pudo abrir «{name}»: el archivo está dañado o no es un Excel "
                         f"válido ({type(exc).__name__}). " + _SAVE_AS, "CORRUPT_FILE") from None
        try:
            built = 0  # cells of the grids built so far: empty sheets cost as much as full
            for index, meta in enumerate(workbook.sheets_metadata):
                if str(meta.visible).endswith("Visible") and "WorkSheet" in str(meta.typ):
                    sheet = workbook.get_sheet_by_index(index)
                    end = sheet.end or (0, 0)
                    self.limits.check(name, end[0] + 1, end[1] + 1)
                    built += (end[0] + 1) * (end[1] + 1)
                    if built > self.limits.cells:
                        raise _error(
                            f"Las hojas de «{name}» anteriores a la que tiene datos parecen "
                            "vacías, pero juntas ocupan más celdas de las que EKI lee en un "
                            f"archivo ({self.limits.described}). Borre esas hojas (o copie "
                            "solo los datos a un libro nuevo) y vuelva a subirlo.",
                            "SHEET_TOO_LARGE")
                    rows = sheet.to_python(skip_empty_area=False)
                    if any(any(v != "" for v in row) for row in rows):
                        return Sheet(filename=name, sha256=digest, sheet_name=meta.name,
                                     rows=[(number, _cells(row))
                                           for number, row in enumerate(rows, start=1)])
        except python_calamine.PasswordError:
            raise _encrypted(name) from None
        except ImportFileError:
            raise
        except Exception as exc:
            raise _error(f"No se pudo leer «{name}»: el archivo está dañado "
                         f"({type(exc).__name__}). " + _SAVE_AS, "CORRUPT_FILE") from None
        finally:
            workbook.close()
        raise _error(f"El archivo «{name}» no tiene datos en ninguna hoja visible. Revise que "
                     "guardó el libro con los estudiantes.", "EMPTY_FILE")

    def _read_json(self, text: str, name: str, digest: str) -> Sheet:
        check_json_bounds(text, name, self.limits)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _error(f"«{name}» no es JSON válido (línea {exc.lineno}, columna {exc.colno}): "
                         f"{exc.msg}.", "INVALID_JSON") from None
        except RecursionError:
            raise _error(f"«{name}» tiene listas u objetos anidados demasiado profundo: no es "
                         "una lista de estudiantes.", "INVALID_JSON") from None
        return sheet_from_json(data, name, digest)


def sheet_from_json(data: object, name: str, digest: str = "") -> Sheet:
    """A JSON array of objects (``[{"nombre": …, "telefono": …}]``) as a Sheet."""
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise _error("Se esperaba una lista JSON de objetos, por ejemplo "
                     '[{"nombre": "Ana", "telefono": "3001234567"}].', "INVALID_JSON")
    if not data:
        raise _error("La lista está vacía: no hay estudiantes para importar.", "EMPTY_FILE")
    if not digest:
        digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False,
                                           default=str).encode()).hexdigest()
    return sheet_from_records(data, name, digest)


def check_json_bounds(text: str | bytes, name: str, limits: SheetLimits | None = None) -> None:
    """Refuse, before parsing, a JSON list of more objects (rows) or values (cells) than a
    sheet may hold: parsed, 50 MB of ``{},`` would be 12 million dictionaries."""
    limits = limits or SheetLimits()
    if isinstance(text, str):
        objects, commas = text.count("{"), text.count(",")
    else:
        objects, commas = text.count(b"{"), text.count(b",")
    if objects > limits.rows + 1 or commas > limits.cells + objects:
        raise _error(f"«{name}» tiene demasiadas filas o valores: EKI lee listas de hasta "
                     f"{limits.described}. Divídala en varios archivos.", "SHEET_TOO_LARGE")


def _encrypted(name: str) -> ImportFileError:
    return _error(f"«{name}» está protegido con contraseña. Ábralo en Excel, quite la "
                  "contraseña (Archivo → Información → Proteger libro) y vuelva a subirlo.",
                  "ENCRYPTED_FILE")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _sniff_delimiter(text: str) -> str:
    sample_lines = [line for line in text.splitlines()[:30] if line.strip()]
    sample = "\n".join(sample_lines)
    best, best_score = ",", -1.0
    for delimiter in CSV_DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(io.StringIO(sample), delimiter=delimiter)]
        except csv.Error:  # e.g. a cell over the field limit: reading says so
            continue
        if not widths:
            continue
        common = max(set(widths), key=widths.count)
        if common < 2:
            continue
        score = common * widths.count(common) / len(widths)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _read_csv(text: str, name: str,
              limits: SheetLimits | None = None) -> Sequence[tuple[int, Sequence[object]]]:
    """The records of a CSV text, numbered by the line each starts on, within ``limits``
    (a sheet's: rows, columns, cells). What the limits refuse is refused before the parse
    builds it: 20 MB of line breaks would be 20 million empty rows (3.6 GB), 45 MB of
    commas one row of 47 million empty cells."""
    limits = limits or SheetLimits()
    delimiter = _sniff_delimiter(text)
    lines = text.count("\n") + 1
    if text.count(delimiter) > limits.cells + lines or (
            '"' not in text and lines > limits.rows + 1):
        raise _csv_too_large(name, limits)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, Sequence[object]]] = []
    try:
        if '"' not in text:
            # No quoting, so no record spans lines: line number = position (C-speed loop).
            rows = list(enumerate(reader, start=1))
        else:
            start = 1
            for record in reader:
                if len(rows) >= limits.rows:
                    raise _csv_too_large(name, limits)
                rows.append((start, record))  # empty cells stay "": blank like None everywhere
                start = reader.line_num + 1
    except csv.Error as exc:
        if "field limit" in str(exc):
            raise _error(f"«{name}» tiene una celda de más de {csv.field_size_limit() // 1024} "
                         f"KB cerca de la línea {reader.line_num}: no es una lista de "
                         "estudiantes. Revise las comillas de esa línea.",
                         "CORRUPT_FILE") from None
        raise _error(f"«{name}» tiene un error de formato CSV cerca de la línea "
                     f"{reader.line_num}: {exc}. Revise las comillas de esa línea.",
                     "CORRUPT_FILE") from None
    last = next((number for number, record in reversed(rows) if any(record)), 0)
    columns = max(map(len, (record for _, record in rows)), default=0)
    limits.check(name, last, columns)
    return rows


def _csv_too_large(name: str, limits: SheetLimits) -> ImportFileError:
    return _error(f"«{name}» es demasiado grande: EKI lee archivos de hasta "
                  f"{limits.described}. Borre las filas vacías del final o divídalo en "
                  "varios archivos.", "SHEET_TOO_LARGE")
