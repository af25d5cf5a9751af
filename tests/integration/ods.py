"""Minimal hand-written .ods files (OpenDocument) for the hostile-input tests."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"'
    ' manifest:version="1.2">\n'
    ' <manifest:file-entry manifest:full-path="/"'
    ' manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>\n'
    ' <manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>\n'
    "</manifest:manifest>")
_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">
<office:body><office:spreadsheet><table:table table:name="Hoja1">{rows}</table:table>
</office:spreadsheet></office:body></office:document-content>"""


def cell(text: str, repeated: int = 1) -> str:
    attr = f' table:number-columns-repeated="{repeated}"' if repeated > 1 else ""
    return (f'<table:table-cell office:value-type="string"{attr}><text:p>{text}</text:p>'
            "</table:table-cell>")


def empty(repeated: int = 1) -> str:
    return f'<table:table-cell table:number-columns-repeated="{repeated}"/>'


def row(cells: Sequence[str], repeated: int = 1) -> str:
    attr = f' table:number-rows-repeated="{repeated}"' if repeated > 1 else ""
    return f"<table:table-row{attr}>{''.join(cells)}</table:table-row>"


def ods(rows: Sequence[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"),
                         "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("META-INF/manifest.xml", _MANIFEST)
        archive.writestr("content.xml", _CONTENT.format(rows="".join(rows)),
                         compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
