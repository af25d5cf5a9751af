"""The fix-and-reupload file: the rejected rows with their original columns plus why.

Every cell is inert: a value that a spreadsheet would run as a formula (it starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) is written as a string cell in
.xlsx (never a formula) and with a leading ``'`` in CSV — headers included. Use
:func:`inert_csv_cell` / :func:`inert_xlsx_cell` for any other file EKI writes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from eki_domain.model.imports import ERRORS_FILE_COLUMNS, FailedRow

ErrorsFormat = Literal["xlsx", "csv"]

#: A text cell starting with one of these is a formula (or DDE) to Excel/LibreOffice.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(value: object) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_PREFIXES)


def inert_csv_cell(value: object) -> object:
    """A CSV value no spreadsheet will evaluate: formula-like text gets a leading ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def errors_format_for(path: str | Path) -> ErrorsFormat:
    return "csv" if str(path).lower().endswith((".csv", ".txt")) else "xlsx"


def write_errors_file(
    headers: Sequence[str],
    rows: Sequence[FailedRow],
    fmt: ErrorsFormat = "xlsx",
) -> bytes:
    """Bytes of an .xlsx (or ``;``-separated UTF-8 .csv) with the failed rows.

    Columns: the file's own headers, then ``fila_original`` and ``errores``. Fix the
    values, delete nothing else, and upload the file again: EKI ignores those two columns.
    """
    header_row = [*headers, *ERRORS_FILE_COLUMNS]
    width = len(headers)

    def cells(row: FailedRow) -> list[object]:
        values = list(row.cells[:width]) + [None] * max(0, width - len(row.cells))
        return [*values, row.row, row.errors]

    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text, delimiter=";", lineterminator="\r\n")
        writer.writerow([inert_csv_cell(v) for v in header_row])
        for row in rows:
            writer.writerow([inert_csv_cell(v) for v in cells(row)])
        return text.getvalue().encode("utf-8-sig")

    # openpyxl is imported here, not at module level: it costs ~90 ms at CLI start-up.
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("errores")
    bold = Font(bold=True)
    titled = []
    for title in header_row:
        cell = inert_xlsx_cell(sheet, title)
        cell.font = bold
        titled.append(cell)
    sheet.append(titled)
    for row in rows:
        # Phones and other values go back as text so Excel cannot reformat them.
        sheet.append([inert_xlsx_cell(sheet, _as_cell(v)) for v in cells(row)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def inert_xlsx_cell(sheet: Any, value: object) -> Any:
    """A write-only openpyxl cell holding ``value``; text is always a string cell, never
    a formula (openpyxl would otherwise write ``=…`` as ``<f>…</f>``), without the control
    characters no .xlsx can hold (openpyxl refuses them: a "\x07" in an imported cell
    made writing the errors file fail)."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value)
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


#: The most characters a cell holds in Excel (openpyxl cuts a longer text there without a
#: sign). Such a value is invalid in every column EKI imports.
XLSX_CELL_CHARS = 32_767


def _as_cell(value: object) -> object:
    """Long numbers (phones) go back as text so Excel cannot turn them into 3,00E+09; text
    longer than Excel's cell limit is cut there, marked with «…» so the cut shows."""
    if value is None or (isinstance(value, int) and abs(value) < 10**9):
        return value
    text = str(value)
    return text if len(text) <= XLSX_CELL_CHARS else text[:XLSX_CELL_CHARS - 1] + "…"
