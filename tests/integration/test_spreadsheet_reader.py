"""The reader on real files: openpyxl-written workbooks, CSVs in several encodings,
and the mislabelled or broken files secretaries actually upload."""

from __future__ import annotations

import io
import zipfile
from datetime import date

import openpyxl
import pytest

from eki_adapters.spreadsheets import CalamineSpreadsheetReader
from eki_domain import ImportFileError, PhoneNumber
from eki_domain.model.roster import validate_student_rows
from tests.integration.workbooks import xlsx

READER = CalamineSpreadsheetReader()


def phones(data: bytes, name: str) -> list[str]:
    result = validate_student_rows(READER.read(data, name), "CO")
    return [r.phone.e164 for r in result.records]


def test_xlsx_numeric_float_text_and_formula_cells() -> None:
    data = xlsx([
        ["Nombre", "Teléfono", "Fecha"],
        ["Ana", 3001234567, date(2026, 2, 1)],  # a number
        ["Beto", 3109876543.0, None],  # a float
        ["Carla", "'3151234567", None],  # text with the apostrophe typed
        ["Dani", "=3201234567", None],  # a formula (openpyxl stores no cached value)
        ["Eva", "300 123 4568", None],
    ], number_formats={"B2": "0"})
    sheet = READER.read(data, "lista.xlsx")
    assert sheet.rows[1][1][1] == 3001234567 and isinstance(sheet.rows[1][1][1], int)
    assert sheet.rows[2][1][1] == 3109876543  # integer-valued float coerced
    assert sheet.rows[1][1][2] == "2026-02-01"
    result = validate_student_rows(sheet, "CO")
    assert [r.phone.e164 for r in result.records] == [
        "+573001234567", "+573109876543", "+573151234567", "+573001234568"]
    formula = next(i for i in result.issues if i.row == 5)
    assert formula.code == "EMPTY"  # no cached value: reported, not guessed


def test_workbook_with_empty_first_sheet_reads_the_sheet_with_data() -> None:
    data = xlsx([["nombre", "telefono"], ["Ana", 3001234567]], first_sheet_empty=True)
    sheet = READER.read(data, "libro.xlsx")
    assert sheet.sheet_name == "Estudiantes"
    assert phones(data, "libro.xlsx") == ["+573001234567"]


def test_data_starting_lower_keeps_real_row_numbers() -> None:
    workbook = openpyxl.Workbook()
    ws = workbook.active
    assert ws is not None
    ws["B4"], ws["C4"] = "Nombre", "Celular"
    ws["B5"], ws["C5"] = "Ana", 12
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = validate_student_rows(READER.read(buffer.getvalue(), "x.xlsx"), "CO")
    assert result.mapping.header_row == 4
    assert [i.row for i in result.issues] == [5]


def test_csv_cp1252_semicolon() -> None:
    text = ("Nombre;Teléfono;Etiquetas\r\nJosé Núñez;300 123 4567;Grado 10\r\n"
            "María;0057 310 987 6543;\r\n")
    sheet = READER.read(text.encode("cp1252"), "export.csv")
    assert sheet.rows[1][1][0] == "José Núñez"
    assert phones(text.encode("cp1252"), "export.csv") == ["+573001234567", "+573109876543"]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_delimiters_are_sniffed(delimiter: str) -> None:
    text = delimiter.join(["nombre", "telefono", "etiquetas"]) + "\n"
    text += delimiter.join(["Ana", "3001234567", '"a, b"' if delimiter == "," else "a, b"]) + "\n"
    sheet = READER.read(text.encode("utf-8-sig"), "x.csv")
    assert list(sheet.rows[1][1]) == ["Ana", "3001234567", "a, b"]


def test_csv_utf8_with_bom_and_nbsp_phone() -> None:
    text = "\ufeffnombre,telefono\nAna,\u00a0300\u00a0123\u00a04567\n"
    assert phones(text.encode("utf-8"), "x.csv") == ["+573001234567"]


def test_csv_keeps_row_numbers_across_quoted_newlines() -> None:
    text = 'nombre,telefono\n"Ana\nMaría",3001234567\nBeto,12\n'
    result = validate_student_rows(READER.read(text.encode(), "x.csv"), "CO")
    assert result.records[0].name == "Ana María"
    assert [i.row for i in result.issues] == [4]


def test_json_list() -> None:
    data = (b'[{"nombre": "Ana", "telefono": "3001234567"}, '
            b'{"nombre": "Beto", "telefono": 3109876543}]')
    assert phones(data, "x.json") == ["+573001234567", "+573109876543"]


@pytest.mark.parametrize(
    ("data", "name", "code", "fragment"),
    [
        (b"", "vacio.xlsx", "EMPTY_FILE", "vacío"),
        (b"   \n", "vacio.csv", "EMPTY_FILE", "vacío"),
        (b"<html><body><table><tr><td>Ana</td></tr></table></body></html>", "lista.xls",
         "WRONG_FORMAT", "página web"),
        (b"nombre,telefono\nAna,3001234567\n", "lista.xlsx", "WRONG_FORMAT", "CSV renombrado"),
        (b"PK\x03\x04garbage-that-is-not-a-zip", "roto.xlsx", "CORRUPT_FILE", "dañado"),
        (b"\x00\x01\x02binary", "raro.csv", "WRONG_FORMAT", "no es una hoja"),
        (b"[1, 2]", "x.json", "INVALID_JSON", "lista JSON de objetos"),
        (b"[{", "x.json", "INVALID_JSON", "no es JSON"),
    ],
)
def test_unusable_files_give_one_clear_error(data: bytes, name: str, code: str,
                                             fragment: str) -> None:
    with pytest.raises(ImportFileError) as caught:
        READER.read(data, name)
    assert caught.value.code == code
    assert fragment in caught.value.message


def test_zip_that_is_not_a_workbook() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hola.txt", "no soy un excel")
    with pytest.raises(ImportFileError) as caught:
        READER.read(buffer.getvalue(), "lista.xlsx")
    assert caught.value.code == "CORRUPT_FILE"


def test_password_protected_workbook() -> None:
    # Excel stores an encrypted .xlsx as an OLE compound file holding an
    # "EncryptedPackage" stream; this is the shape of such a file's start.
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 504
    ole += "EncryptedPackage".encode("utf-16-le") + b"\x00" * 512
    with pytest.raises(ImportFileError) as caught:
        READER.read(ole, "notas.xlsx")
    assert caught.value.code == "ENCRYPTED_FILE"
    assert "contraseña" in caught.value.message


def test_too_large() -> None:
    with pytest.raises(ImportFileError) as caught:
        CalamineSpreadsheetReader(max_bytes=10).read(b"nombre,telefono\n" * 3, "x.csv")
    assert caught.value.code == "FILE_TOO_LARGE"


def test_phone_pitfalls_survive_the_reader() -> None:
    data = xlsx([
        ["nombre", "telefono"],
        ["A", 573001234567],
        ["B", "+57 (300) 123-4569"],
        ["C", "３００１２３４５７０"],
        ["D", "3001234571 / 3109876543"],
    ])
    result = validate_student_rows(READER.read(data, "x.xlsx"), "CO")
    assert [r.phone for r in result.records] == [
        PhoneNumber.parse(p) for p in
        ("+573001234567", "+573001234569", "+573001234570", "+573001234571")]
    assert [i.code for i in result.issues] == ["SECOND_NUMBER_IGNORED"]


def test_before_parse_is_called_once_the_sizes_are_checked() -> None:
    """The hook (the CLI's read-ahead lets its main thread go on) runs after the size
    check and before the parse: never for a sheet the check refuses, nor for a CSV."""
    import python_calamine

    calls: list[str] = []
    parsed = python_calamine.CalamineWorkbook.from_filelike

    def spy_parse(filelike):  # type: ignore[no-untyped-def]
        calls.append("parse")
        return parsed(filelike)

    reader = CalamineSpreadsheetReader(before_parse=lambda: calls.append("before_parse"))
    original = python_calamine.CalamineWorkbook
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(original, "from_filelike", staticmethod(spy_parse), raising=False)
        sheet = reader.read(xlsx([["nombre", "telefono"], ["Ana", 3001234567]]), "a.xlsx")
        assert calls == ["before_parse", "parse"] and len(sheet.rows) == 2
        calls.clear()
        book = openpyxl.Workbook()
        active = book.active
        assert active is not None
        active["A1"] = "Nombre"
        active["XFD1048576"] = "x"
        buffer = io.BytesIO()
        book.save(buffer)
        with pytest.raises(ImportFileError) as refused:
            reader.read(buffer.getvalue(), "ancho.xlsx")
        assert refused.value.code == "SHEET_TOO_LARGE" and calls == []
        reader.read(b"nombre,telefono\nAna,3001234567\n", "a.csv")
        assert calls == []
