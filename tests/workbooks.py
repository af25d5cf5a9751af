"""Hand-built .xlsx parts for the hostile-input tests (unit and integration)."""

from __future__ import annotations

import io
import zipfile

#: The opening of a shared strings part (``…<si><t>text</t></si>…</sst>`` follows).
SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
SHARED_STRINGS_RELATIONSHIP = (
    b'<Relationship Id="rIdS" Target="sharedStrings.xml" Type="http://schemas.'
    b'openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>')


def with_shared_strings(workbook: bytes, strings: bytes, rows: bytes = b"") -> bytes:
    """``workbook`` with ``strings`` as its shared strings part (related from the workbook,
    where calamine looks) and ``rows`` added at the end of its first sheet's data."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content.replace(b"</sheetData>", rows + b"</sheetData>")
            elif info.filename == "xl/_rels/workbook.xml.rels":
                content = content.replace(b"</Relationships>",
                                          SHARED_STRINGS_RELATIONSHIP + b"</Relationships>")
            target.writestr(info, content)
        target.writestr("xl/sharedStrings.xml", strings)
    return out.getvalue()
