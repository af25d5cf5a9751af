"""Small pieces behind issue 21: the keyed pseudonym, the fixed-window counter, the body
budget and the sheet limits."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from collections.abc import Callable

import openpyxl
import pytest

from eki_adapters.spreadsheets.bounds import SheetLimits, check_xlsx_bounds, column_letters
from eki_domain.model.imports import ImportFileError
from eki_domain.services.llm_assistant import safety_identifier
from eki_domain.services.windows import FixedWindowCounter
from eki_entrypoints.web.limits import BodyBudget
from tests.workbooks import SST as _SST
from tests.workbooks import repacked as _repacked
from tests.workbooks import with_shared_strings


def test_the_safety_identifier_is_keyed() -> None:
    key = b"k" * 32
    keyed = safety_identifier(7, key)
    assert keyed == safety_identifier(7, key) and len(keyed) == 32
    assert keyed != safety_identifier(7, b"j" * 32) != safety_identifier(8, key)
    # not recoverable by hashing small integers without the key
    plain = {hashlib.sha256(f"eki-student-{n}".encode()).hexdigest()[:32] for n in range(100)}
    assert keyed not in plain


async def test_fixed_windows() -> None:
    counter = FixedWindowCounter(60)
    assert await counter.add("a", 1, 100.0) == (1, 60.0)
    assert await counter.add("a", 2, 130.0) == (3, 30.0)
    assert await counter.peek("a", 130.0) == (3, 30.0)
    assert await counter.peek("b", 130.0) == (0, 0.0)
    assert await counter.add("a", 1, 160.0) == (1, 60.0)  # a new window
    with pytest.raises(ValueError, match="window"):
        FixedWindowCounter(0)


def test_body_budget() -> None:
    budget = BodyBudget(10)
    assert budget.reserve(6) and not budget.reserve(5) and budget.reserve(4)
    budget.release(6)
    assert budget.used == 4 and budget.reserve(6)


def _xlsx(cells: dict[str, object]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for ref, value in cells.items():
        sheet[ref] = value
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_sheet_limits() -> None:
    limits = SheetLimits(rows=100, columns=5, cells=400)
    check_xlsx_bounds(_xlsx({"A1": "x", "D100": "y"}), "ok.xlsx", limits)
    for cells in ({"A1": "x", "F1": "y"}, {"A1": "x", "A101": "y"},
                  {"A1": "x", "E90": "y"}):  # 5 × 90 = 450 cells > 400
        with pytest.raises(ImportFileError) as caught:
            check_xlsx_bounds(_xlsx(cells), "grande.xlsx", limits)
        assert caught.value.code == "SHEET_TOO_LARGE"
        assert "«grande.xlsx»" in caught.value.message
    check_xlsx_bounds(b"PK\x03\x04 not a zip", "roto.xlsx", limits)  # calamine reports it
    assert (column_letters(1), column_letters(26), column_letters(27),
            column_letters(16384)) == ("A", "Z", "AA", "XFD")



def _rewritten(data: bytes, change: Callable[[bytes], bytes]) -> bytes:
    """The workbook with its first sheet's XML changed and its declared dimension reduced to
    A1 (an attacker writes both)."""
    def edit(name: str, content: bytes) -> tuple[str, bytes]:
        if name == "xl/worksheets/sheet1.xml":
            content = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"',
                             change(content))
        return name, content

    return _repacked(data, edit)


@pytest.mark.parametrize("change", [
    lambda xml: xml,
    # A namespace prefix on the cells (what a hand-made file or another writer may use).
    lambda xml: xml.replace(b"<c ", b"<x:c ").replace(b"</c>", b"</x:c>").replace(
        b"<worksheet ", b'<worksheet xmlns:x="http://schemas.openxmlformats.org/'
                        b'spreadsheetml/2006/main" '),
    lambda xml: xml.replace(b'r="A600"', b"r='A600'"),  # single quotes
    lambda xml: xml.replace(b'r="A600"', b'r="a600"'),  # lower-case letters
    lambda xml: xml.replace(b'r="A600"', b'r = "A600"'),  # spaces around =
], ids=["plain", "prefixed", "single-quoted", "lower-case", "spaced"])
def test_every_spelling_of_a_far_cell_is_seen(change: Callable[[bytes], bytes]) -> None:
    # calamine reads each of these spellings (it would build the whole grid up to A600).
    data = _rewritten(_xlsx({"A1": "x", "A600": "y"}), change)
    with pytest.raises(ImportFileError) as caught:
        check_xlsx_bounds(data, "raro.xlsx", SheetLimits(rows=500, columns=5, cells=1000))
    assert caught.value.code == "SHEET_TOO_LARGE"


def test_a_cell_padded_across_two_chunks_is_seen() -> None:
    head = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            b'<dimension ref="A1"/><sheetData><row r="1"><c r="A1"><v>1</v></c></row>')
    cell = b'<row r="9000"><c r="A9000" pad="' + b"a" * 6000 + b'"><v>2</v></c></row>'
    # The cell starts 5,000 bytes before the first 1 MiB chunk ends and goes on after it.
    filler = b" " * (1024 * 1024 - 5000 - len(head) - len(b"<row r=\"9000\">"))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("xl/workbook.xml", b"<workbook/>")
        book.writestr("xl/worksheets/sheet1.xml", head + filler + cell + b"</sheetData>"
                      b"</worksheet>")
    with pytest.raises(ImportFileError):
        check_xlsx_bounds(out.getvalue(), "relleno.xlsx", SheetLimits(rows=5000))


_HEAD = (b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
         b'<dimension ref="A1"/><sheetData>')


def _sheet_xlsx(sheet_data: bytes) -> bytes:
    """A real workbook (openpyxl's parts) whose first sheet's cells are ``sheet_data``."""
    def edit(name: str, content: bytes) -> tuple[str, bytes]:
        if name == "xl/worksheets/sheet1.xml":
            return name, _HEAD + sheet_data + b"</sheetData></worksheet>"
        return name, content

    return _repacked(_xlsx({"A1": "x"}), edit)


def _calamine_end(data: bytes) -> tuple[int, int]:
    """(rows, columns) of the grid calamine builds for the first sheet."""
    import python_calamine

    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    end = book.get_sheet_by_index(0).end
    assert end is not None
    return end[0] + 1, end[1] + 1


# Cells that calamine places far away although no cell reference says so (or a reference
# hides from a pattern that stops at the first ">"). Each sheet is small enough for
# calamine to build here, so the test checks where calamine really puts them.
_FAR_WITHOUT_REFERENCES = {
    "row-r-places-a-cell-without-r": b'<row r="1"><c r="A1"><v>1</v></c></row>'
                                     b'<row r="600"><c t="n"><v>2</v></c></row>',
    "bare-c-element": b'<row r="600"><c><v>2</v></c></row>',
    "rows-without-r-count-up": b'<row><c><v>1</v></c></row>' * 3
                               + b'<row r="599"></row><row><c><v>2</v></c></row>',
    "columns-counted-after-the-last-reference": b'<row r="1"><c r="B1"><v>1</v></c>'
                                                + b"<c><v>2</v></c>" * 7 + b"</row>",
    "a-prefixed-r-is-not-the-position": b'<row r="600"><c x:r="A1" xmlns:x="urn:x">'
                                        b"<v>2</v></c></row>",
    "a-gt-in-a-value-before-r": b'<row r="1"><c s="1" t="n" o=">" r="A600"><v>2</v></c>'
                                b"</row>",
    "slash-gt-in-a-value-after-r": b'<row r="1"><c r="A600" o="/>" t="n"><v>2</v></c>'
                                   b"</row>",
    "leading-zeros": b'<row r="1"><c r="A1"><v>1</v></c><c r="A0600"><v>2</v></c></row>',
    "prefixed-rows-and-cells": b'<x:row r="600" xmlns:x="urn:x"><x:c><x:v>2</x:v></x:c>'
                               b"</x:row>",
}


@pytest.mark.parametrize("sheet_data", list(_FAR_WITHOUT_REFERENCES.values()),
                         ids=list(_FAR_WITHOUT_REFERENCES))
def test_cells_placed_without_a_reference_are_seen(sheet_data: bytes) -> None:
    data = _sheet_xlsx(sheet_data)
    rows, columns = _calamine_end(data)
    assert rows >= 600 or columns >= 8  # what calamine would build
    limits = SheetLimits(rows=min(rows, 600) - 1 if rows >= 600 else 500,
                         columns=columns - 1 if columns >= 8 else 200)
    with pytest.raises(ImportFileError) as caught:
        check_xlsx_bounds(data, "raro.xlsx", limits)
    assert caught.value.code == "SHEET_TOO_LARGE"
    check_xlsx_bounds(data, "raro.xlsx", SheetLimits(rows=rows, columns=columns))


def test_the_exact_reading_agrees_with_the_quick_one_on_a_regular_sheet() -> None:
    from eki_adapters.spreadsheets import bounds

    data = _xlsx({"A1": "x", "C7": 3, "B250": "y", "AB3": "z"})
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    quick = bounds._quick_extent(bounds._Chunks(archive, info, 1 << 20), 1000)
    exact = bounds._exact_extent(bounds._Chunks(archive, info, 1 << 20), 1000)
    assert quick == exact == (250, 28, 4)  # last row, last column, cells
    assert quick[:2] == _calamine_end(data)


def test_more_cells_than_a_sheet_may_hold_are_refused_wherever_they_are() -> None:
    data = _xlsx({f"A{n}": n for n in range(1, 31)})
    check_xlsx_bounds(data, "ok.xlsx", SheetLimits(cells=30))
    for sheet in (_xlsx({f"A{n}": n for n in range(1, 32)}),
                  _sheet_xlsx(b"<row><c><v>1</v></c></row>" * 31)):
        with pytest.raises(ImportFileError, match="más de 30 celdas") as caught:
            check_xlsx_bounds(sheet, "grande.xlsx", SheetLimits(cells=30))
        assert caught.value.code == "SHEET_TOO_LARGE"


def test_the_reader_refuses_a_two_kilobyte_grid_of_a_million_rows() -> None:
    # Without the exact reading calamine asked for 6.4 GB here and aborted the process.
    from eki_adapters.spreadsheets.reader import CalamineSpreadsheetReader

    data = _sheet_xlsx(b'<row r="1"><c r="GR1" t="n"><v>1</v></c></row>'
                       b'<row r="1000000"><c t="n"><v>2</v></c></row>')
    assert len(data) < 8000
    with pytest.raises(ImportFileError) as caught:
        CalamineSpreadsheetReader().read(data, "bomba.xlsx")
    assert caught.value.code == "SHEET_TOO_LARGE"
    assert "fila 1.000.000" in caught.value.message


def test_a_sheet_outside_xl_worksheets_is_measured_too() -> None:
    # calamine finds sheets through the workbook's relationships, whatever their path.
    def move(name: str, content: bytes) -> tuple[str, bytes]:
        if name == "xl/worksheets/sheet1.xml":
            return "xl/elsewhere.xml", content
        return name, content.replace(b"worksheets/sheet1.xml", b"elsewhere.xml")

    data = _repacked(_sheet_xlsx(b'<row r="600"><c r="A600"><v>1</v></c></row>'), move)
    assert _calamine_end(data) == (600, 1)
    with pytest.raises(ImportFileError) as caught:
        check_xlsx_bounds(data, "raro.xlsx", SheetLimits(rows=500))
    assert caught.value.code == "SHEET_TOO_LARGE"


def _naming_shared_strings(strings: bytes, cells: int = 1, index: int = 0) -> bytes:
    """A workbook with ``strings`` as its shared strings part and ``cells`` cells (A1, A2…)
    that each name shared string ``index``."""
    rows = b"".join(b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c></row>' % (n, n, index)
                    for n in range(1, cells + 1))
    return with_shared_strings(_sheet_xlsx(b""), strings, rows)


def _with_shared_strings(count: int) -> bytes:
    """A workbook whose A1 is the first of ``count`` shared strings of 100 letters."""
    return _naming_shared_strings(
        _SST + (b"<si><t>" + b"a" * 100 + b"</t></si>") * count + b"</sst>")


def test_shared_strings_that_unpack_to_more_than_the_parts_budget_are_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # calamine holds every shared string in memory: 1 MB of upload could be gigabytes.
    import python_calamine

    from eki_adapters.spreadsheets import bounds

    small, big = _with_shared_strings(1), _with_shared_strings(1000)
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(big))
    assert book.get_sheet_by_index(0).to_python() == [["a" * 100]]  # a real shared string
    others = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(small)).infolist()
                 if info.filename != "xl/worksheets/sheet1.xml")
    monkeypatch.setattr(bounds, "MAX_PARTS_BYTES", others + 10_000)
    check_xlsx_bounds(small, "ok.xlsx", SheetLimits())
    with pytest.raises(ImportFileError, match="descomprimido es demasiado grande") as caught:
        check_xlsx_bounds(big, "cadenas.xlsx", SheetLimits())  # ~120 KB of strings
    assert caught.value.code == "SHEET_TOO_LARGE"


def test_a_long_shared_string_named_by_many_cells_is_read_in_isolation(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # calamine copies a shared string into every cell that names it (and python-calamine
    # once more into a Python string): 18 KB naming a 1 MB string 3,000 times asked for 6 GB.
    from eki_adapters.spreadsheets import bounds

    monkeypatch.setattr(bounds, "MAX_TEXT_HERE", 200_000)
    long = _SST + b"<si><t>" + b"a" * 10_000 + b"</t></si></sst>"
    assert check_xlsx_bounds(_naming_shared_strings(long, cells=10), "ok.xlsx", SheetLimits())
    assert not check_xlsx_bounds(_naming_shared_strings(long, cells=50), "x.xlsx", SheetLimits())
    # a cell inside the shared strings part does not make it a sheet to skip
    hidden = long.replace(b"</sst>", b'<c r="A1"><v>1</v></c></sst>')
    assert not check_xlsx_bounds(_naming_shared_strings(hidden, cells=50), "x.xlsx",
                                 SheetLimits())
    # what Python needs counts: one emoji in a string makes it four bytes a character
    wide = _SST + b"<si><t>" + b"a" * 10_000 + "😀".encode() + b"</t></si></sst>"
    assert not check_xlsx_bounds(_naming_shared_strings(wide, cells=10), "x.xlsx",
                                 SheetLimits())
    # the sheet's own text counts too (inline strings)
    inline = _sheet_xlsx(b'<row r="1"><c r="A1" t="inlineStr"><is><t>'
                         + b"b" * 250_000 + b"</t></is></c></row>")
    assert not check_xlsx_bounds(inline, "x.xlsx", SheetLimits())


def test_the_reader_refuses_an_18_kilobyte_file_whose_cells_name_a_megabyte_string() -> None:
    import resource

    from eki_adapters.spreadsheets.reader import CalamineSpreadsheetReader

    data = _naming_shared_strings(_SST + b"<si><t>" + b"x" * 1_000_000 + b"</t></si></sst>",
                                  cells=3000)
    assert len(data) < 40_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImportFileError) as caught:
        CalamineSpreadsheetReader().read(data, "cadena.xlsx")  # the child runs out, not us
    assert caught.value.code == "SHEET_TOO_LARGE"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KB


def _workbook_of_sheets(count: int, sheet_data: bytes) -> bytes:
    """A workbook of ``count`` visible sheets, each with these cells."""
    def edit(name: str, content: bytes) -> tuple[str, bytes]:
        if name == "xl/workbook.xml":
            sheets = b"".join(b'<sheet name="H%d" sheetId="%d" r:id="rIdH%d"/>' % (n, n + 1, n)
                              for n in range(count))
            content = re.sub(rb"<sheets>.*</sheets>", b"<sheets>" + sheets + b"</sheets>",
                             content, flags=re.S)
        if name == "xl/_rels/workbook.xml.rels":
            content = content.replace(b"</Relationships>", b"".join(
                b'<Relationship Id="rIdH%d" Target="/xl/worksheets/h%d.xml" Type="http://'
                b'schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/>'
                % (n, n) for n in range(count)) + b"</Relationships>")
        return name, content

    sheet = _HEAD + sheet_data + b"</sheetData></worksheet>"
    return _repacked(_sheet_xlsx(b""), edit,
                     {f"xl/worksheets/h{n}.xml": sheet for n in range(count)})


def test_empty_sheets_before_the_data_are_bounded_together() -> None:
    # Each sheet within the limits, but calamine builds every empty-looking grid before the
    # reader moves on: 7 KB of 20 such sheets (5,000,000 cells each) took 10 s of CPU.
    from eki_adapters.spreadsheets.reader import CalamineSpreadsheetReader

    far = b'<row r="80"><c r="E80" t="inlineStr"><is><t></t></is></c></row>'
    empty = b'<row r="1"><c r="A1" t="inlineStr"><is><t></t></is></c></row>' + far
    reader = CalamineSpreadsheetReader(limits=SheetLimits(rows=100, columns=5, cells=400))
    with pytest.raises(ImportFileError) as caught:
        reader.read(_workbook_of_sheets(2, empty), "vacias.xlsx")
    assert caught.value.code == "SHEET_TOO_LARGE"
    assert "parecen vacías" in caught.value.message
    with pytest.raises(ImportFileError) as one:  # one such sheet alone: simply no data
        reader.read(_workbook_of_sheets(1, empty), "vacia.xlsx")
    assert one.value.code == "EMPTY_FILE"
    data = b'<row r="1"><c r="A1" t="inlineStr"><is><t>Nombre</t></is></c></row>' + far
    sheet = reader.read(_workbook_of_sheets(3, data), "datos.xlsx")  # data on the first
    assert sheet.rows[0][1][0] == "Nombre"


_LONG = b"x" * 50


@pytest.mark.parametrize(("strings", "whole"), [
    (_SST + b"<si><t>abc</t></si><si><t>" + _LONG + b"</t></si></sst>", False),
    (b'<?xml version="1.0" encoding="UTF-8"?>\n' + _SST + b"<si><t>" + _LONG
     + b"</t></si></sst>", False),
    (b'<x:sst xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
     b"<x:si><x:t>ab</x:t></x:si><x:si><x:t>" + _LONG + b"</x:t></x:si></x:sst>", False),
    (_SST + b"<si ><t>ab</t></si><si\n><t>" + _LONG + b"</t></si></sst>", False),
    (_SST + b"<si><r><t>" + _LONG[:25] + b"</t></r><r><t>" + _LONG[25:]
     + b"</t></r></si></sst>", False),
    (_SST + b"<si><t>" + _LONG[:25] + b"<!-- <si> -->" + _LONG[25:] + b"</t></si></sst>", True),
    (_SST + b"<si><t><![CDATA[" + _LONG[:25] + b"<si>" + _LONG[25:] + b"]]></t></si></sst>",
     True),
    (_SST + b'<si><t>' + _LONG[:25] + b'</t><b a="<si>"/><t>' + _LONG[25:]
     + b"</t></si></sst>", True),
    (_SST + b"<si><t>" + _LONG[:25] + b"<?pi <si>?>" + _LONG[25:] + b"</t></si></sst>", True),
], ids=["plain", "declaration", "prefixed", "spaces", "rich-text", "comment", "cdata",
        "angle-in-attribute", "instruction"])
def test_the_longest_shared_string_is_never_underestimated(strings: bytes, whole: bool) -> None:
    import python_calamine

    from eki_adapters.spreadsheets.bounds import _longest_shared_string

    bound = _longest_shared_string(strings)
    assert bound == len(strings) if whole else len(_LONG) <= bound < 2 * len(_LONG)
    short_first = b"ab</" in strings or b"abc</" in strings  # the long one is the second
    data = _naming_shared_strings(strings, index=1 if short_first else 0)
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
    for row in book.get_sheet_by_index(0).to_python():
        assert all(len(str(value)) <= bound for value in row)
    assert _longest_shared_string(b"<styleSheet><fonts/></styleSheet>") == 0


@pytest.mark.parametrize("data", [
    b"nombre,telefono\n" + b"\n" * 200,  # line breaks: 200 empty rows
    b"nombre,telefono\n" + b"," * 1000 + b"\n",  # commas: one row of 1,001 empty cells
    b'nombre,telefono\n"Ana",1\n' + b'"x",\n' * 200,  # quoted: records counted as read
    b"nombre,telefono\n" + b"Ana,300\n" * 90 + b"Ana,300,1,2,3,4,5\n",  # a row too wide
], ids=["line-breaks", "commas", "quoted-rows", "too-wide"])
def test_a_csv_beyond_the_sheet_limits_is_refused(data: bytes) -> None:
    # Unbounded, 20 MB of line breaks were 20 million rows (3.6 GB, 45 s), 45 MB of
    # commas one row of 47 million cells (805 MB).
    from eki_adapters.spreadsheets.reader import CalamineSpreadsheetReader

    reader = CalamineSpreadsheetReader(limits=SheetLimits(rows=100, columns=5, cells=400))
    with pytest.raises(ImportFileError) as caught:
        reader.read(data, "grande.csv")
    assert caught.value.code == "SHEET_TOO_LARGE"
    assert "«grande.csv»" in caught.value.message
    fine = b"nombre,telefono\n" + b"Ana,300\n" * 90 + b"\n" * 5
    assert sum(1 for _, record in reader.read(fine, "bien.csv").rows if record) == 91


def test_a_json_list_beyond_the_sheet_limits_is_refused_before_parsing() -> None:
    from eki_adapters.spreadsheets.reader import CalamineSpreadsheetReader, check_json_bounds

    reader = CalamineSpreadsheetReader(limits=SheetLimits(rows=100, columns=5, cells=400))
    for text in ("[" + "{}," * 200 + "{}]", '[{"a": [' + "1," * 1000 + "1]}]"):
        with pytest.raises(ImportFileError) as caught:
            reader.read(text.encode(), "lista.json")
        assert caught.value.code == "SHEET_TOO_LARGE"
    check_json_bounds(b'[{"nombre": "Ana", "telefono": "3001234567"}]', "ok.json")
    with pytest.raises(ImportFileError):
        check_json_bounds(b"[" + b"{}," * (SheetLimits().rows + 1) + b"{}]", "api.json")


def test_empty_rows_cannot_make_the_exact_reading_run_unbounded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A cell without a reference sends the sheet to the tag-by-tag reading, a step of Python
    # per tag: 0.43 MB of upload holding 20 million empty rows (220 MB unpacked) took 16 s
    # of CPU (the 1 GiB budget allowed ~75 s); now at most 22.1 million tags (~9 s).
    from eki_adapters.spreadsheets import bounds

    monkeypatch.setattr(bounds, "SPREADSHEET_ROWS", 10)
    head = b"<row><c><v>1</v></c></row>"
    check_xlsx_bounds(_sheet_xlsx(head + b"<row></row>" * 5), "ok.xlsx", SheetLimits(cells=30))
    with pytest.raises(ImportFileError, match="más filas y celdas") as caught:
        check_xlsx_bounds(_sheet_xlsx(head + b"<row></row>" * 40), "x.xlsx",
                          SheetLimits(cells=30))
    assert caught.value.code == "SHEET_TOO_LARGE"


@pytest.mark.parametrize("chunk", range(150, 190))
def test_a_cell_tag_cut_by_a_chunk_keeps_the_quick_scan(
        monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    # "<c r" at a chunk's end looked like a cell without a reference: the sheet went to the
    # tag-by-tag reading (a million-row gradebook's check: 14.8 s of CPU instead of 2.6 s).
    from eki_adapters.spreadsheets import bounds

    monkeypatch.setattr(bounds, "_CHUNK", chunk)
    data = _sheet_xlsx(b"".join(
        b'<row r="%d"><c r="A%d" t="s"><v>1</v></c><c r="B%d"><v>300%d</v></c></row>'
        % (n, n, n, n) for n in range(1, 60)))
    archive = zipfile.ZipFile(io.BytesIO(data))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    assert bounds._quick_extent(bounds._Chunks(archive, info, 1 << 20), 1000) == (59, 2, 118)


@pytest.mark.parametrize("text", ["Ana", "Pérez Gómez ñ", "Wałęsa", "Ωμέγα", "中文", "grado 6 😀",
                                  "x" * 1000 + "😀"])
def test_the_width_bounds_what_python_holds(text: str) -> None:
    import sys

    from eki_adapters.spreadsheets.bounds import _width

    utf8 = text.encode()
    assert sys.getsizeof(text) <= _width(utf8) * len(utf8) + 80  # 80: the object's header
    assert _width(utf8) == (1 if text in ("Ana", "Pérez Gómez ñ") else
                            4 if "😀" in text else 2)
