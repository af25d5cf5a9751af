"""The fix-and-reupload file: the rejected rows with their original columns plus why."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from eki_domain.model.imports import ERRORS_FILE_COLUMNS, FailedRow

ErrorsFormat = Literal["xlsx", "csv"]


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
        writer.writerow(header_row)
        for row in rows:
            writer.writerow(["" if v is None else v for v in cells(row)])
        return text.getvalue().encode("utf-8-sig")

    # openpyxl is imported here, not at module level: it costs ~90 ms at CLI start-up.
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("errores")
    bold = Font(bold=True)
    titled = []
    for title in header_row:
        cell = WriteOnlyCell(sheet, value=title)
        cell.font = bold
        titled.append(cell)
    sheet.append(titled)
    for row in rows:
        # Phones and other values go back as text so Excel cannot reformat them.
        sheet.append([_as_cell(v) for v in cells(row)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _as_cell(value: object) -> object:
    """Long numbers (phones) go back as text so Excel cannot turn them into 3,00E+09."""
    if value is None or (isinstance(value, int) and abs(value) < 10**9):
        return value
    return str(value)
