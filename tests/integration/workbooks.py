"""Real .xlsx files written by openpyxl, for the import tests."""

from __future__ import annotations

import io
from collections.abc import Sequence

import openpyxl


def xlsx(rows: Sequence[Sequence[object]], *, number_formats: dict[str, str] | None = None,
         first_sheet_empty: bool = False) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    if first_sheet_empty:
        sheet.title = "Portada"
        sheet = workbook.create_sheet("Estudiantes")
    for row in rows:
        sheet.append(list(row))
    for cell, fmt in (number_formats or {}).items():
        sheet[cell].number_format = fmt
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
