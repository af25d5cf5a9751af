"""Hand-built .xlsx parts for the hostile-input tests (unit and integration)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

#: The opening of a shared strings part (``…<si><t>text</t></si>…</sst>`` follows).
SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
SHARED_STRINGS_RELATIONSHIP = (
    b'<Relationship Id="rIdS" Target="sharedStrings.xml" Type="http://schemas.'
    b'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>')


def repacked(data: bytes, edit: Callable[[str, bytes], tuple[str, bytes]],
             added: dict[str, bytes] | None = None) -> bytes:
    """The workbook with each part passed through ``edit`` (its new name and content) and
    the ``added`` parts."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(*edit(info.filename, source.read(info.filename)))
        for name, content in (added or {}).items():
            target.writestr(name, content)
    return out.getvalue()


def with_shared_strings(workbook: bytes, strings: bytes, rows: bytes = b"") -> bytes:
    """``workbook`` with ``strings`` as its shared strings part (related from the workbook,
    where calamine looks) and ``rows`` added at the end of its first sheet's data."""
    def edit(name: str, content: bytes) -> tuple[str, bytes]:
        if name == "xl/worksheets/sheet1.xml":
            return name, content.replace(b"</sheetData>", rows + b"</sheetData>")
        if name == "xl/_rels/workbook.xml.rels":
            return name, content.replace(b"</Relationships>",
                                         SHARED_STRINGS_RELATIONSHIP + b"</Relationships>")
        return name, content

    return repacked(workbook, edit, {"xl/sharedStrings.xml": strings})
