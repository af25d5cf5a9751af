"""Spreadsheet adapters: read .xlsx/.xls/.ods (python-calamine), .csv and JSON; write
the fix-and-reupload errors file (openpyxl / csv)."""

from __future__ import annotations

from eki_adapters.spreadsheets.errors_file import write_errors_file
from eki_adapters.spreadsheets.reader import MAX_UPLOAD_BYTES, CalamineSpreadsheetReader

__all__ = ["MAX_UPLOAD_BYTES", "CalamineSpreadsheetReader", "write_errors_file"]
