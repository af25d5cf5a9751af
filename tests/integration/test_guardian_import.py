"""``eki guardians import`` with real spreadsheets written by openpyxl: messy phones,
duplicates, a guardian shared by siblings, dry run, strict mode and the errors file."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest


@pytest.fixture
def eki(cli):  # type: ignore[no-untyped-def]
    for name, phone in (("Ana Pérez", "3001112233"), ("Luis Pérez", "3004445566"),
                        ("Beto Ruiz", "3109876543")):
        assert cli("students", "add", name, phone)[0] == 0
    return cli


def _workbook(tmp_path: Path, rows: list[list[object]]) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    path = tmp_path / "acudientes.xlsx"
    workbook.save(path)
    return path


ROWS: list[list[object]] = [
    ["Teléfono estudiante", "Nombre acudiente", "Celular acudiente", "Parentesco"],
    [3001112233, "Marta Gómez", "+57 310-555-0001", "Mamá"],  # messy phone
    ["300 444 5566", "  Marta   Gómez ", 3105550001, "mama"],  # shared by siblings
    ["3001112233", "Marta Gómez", "310 555 0001", "madre"],  # duplicate of row 2
    [3009999999, "Pedro Nadie", 3105550009, "papá"],  # no such student
    [3109876543, "Rosa Ruiz", "3.10555E+09", "tía"],  # digits lost to Excel
    [3109876543, "Jorge Ruiz", 3105550002, "vecino"],  # unknown relationship
    [3109876543, "Carolina Ruiz", 3105550003, ""],  # blank: acudiente
]


def test_import_links_siblings_and_reports_every_problem(eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _workbook(tmp_path, ROWS)
    errors = tmp_path / "errores.xlsx"
    code, out, err = eki("guardians", "import", str(path), "--dry-run", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["dry_run"] is True and report["created"] == 3
    _, listing, _ = eki("guardians", "list", "--json")
    assert json.loads(listing) == []  # the dry run wrote nothing

    code, out, err = eki("guardians", "import", str(path), "--json",
                         "--errors-out", str(errors))
    assert code == 0, err
    report = json.loads(out)
    assert (report["rows_read"], report["created"], report["updated"]) == (7, 3, 0)
    codes = {(issue["row"], issue["code"]) for issue in report["issues"]
             if issue["severity"] == "error"}
    assert {(4, "DUPLICATE_IN_FILE"), (5, "STUDENT_NOT_FOUND"),
            (6, "SCIENTIFIC_NOTATION_DIGITS_LOST"), (7, "INVALID_RELATIONSHIP")} <= codes
    _, listing, _ = eki("guardians", "list", "--json")
    links = json.loads(listing)
    assert sorted((r["guardian"], r["student"], r["relationship"]) for r in links) == [
        ("Carolina Ruiz", "Beto Ruiz", "acudiente"), ("Marta Gómez", "Ana Pérez", "madre"),
        ("Marta Gómez", "Luis Pérez", "madre")]
    assert len({r["phone"] for r in links if r["guardian"] == "Marta Gómez"}) == 1
    rejected = openpyxl.load_workbook(errors).active
    assert rejected is not None and rejected.max_row == 5  # header + 4 rejected rows

    code, out, _ = eki("guardians", "import", str(path))  # again: nothing new
    assert code == 0 and "0 creados" in out and "3 sin cambios" in out
    _, audit, _ = eki("audit", "list", "--json")
    assert [e["action"] for e in json.loads(audit)].count("guardian_import.run") == 2


def test_strict_mode_writes_nothing(eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = eki("guardians", "import", str(_workbook(tmp_path, ROWS)), "--strict")
    assert code == 1 and "Modo estricto" in out
    _, listing, _ = eki("guardians", "list", "--json")
    assert json.loads(listing) == []


def test_a_file_without_the_columns_is_refused(eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = eki("guardians", "import", str(_workbook(tmp_path, [["Nombre", "Teléfono"],
                                                                       ["Ana", 3001112233]])))
    assert code == 2 and "estudiante" in err


def test_the_student_spreadsheet_may_carry_two_guardians(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _workbook(tmp_path, [
        ["Nombre", "Teléfono", "Nombre acudiente", "Celular acudiente", "Parentesco",
         "Acudiente_2", "Telefono_acudiente_2", "Parentesco_2"],
        ["Ana Pérez", 3001112233, "Marta Gómez", "310 555 0001", "mamá",
         "Jorge Pérez", "+57 310 555 0002", "papá"],
        ["Luis Pérez", "300-444-5566", "Marta Gómez", 3105550001, "Mamá", None, None, None],
        ["Beto Ruiz", 3109876543, "Rosa", "12", "tía", None, None, None],  # bad guardian phone
        ["Sin Teléfono", None, "Pedro", 3105550009, "papá", None, None, None],
    ])
    code, out, err = cli("students", "import", str(path), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["created"] == 3 and report["rows_rejected"] == 1
    assert not [i for i in report["issues"] if i["code"] == "UNKNOWN_COLUMN"]
    warnings = [i for i in report["issues"] if i["code"] == "GUARDIAN_SKIPPED"]
    assert [w["row"] for w in warnings] == [4]
    _, listing, _ = cli("guardians", "list", "--json")
    links = sorted((r["guardian"], r["student"], r["relationship"])
                   for r in json.loads(listing))
    assert links == [("Jorge Pérez", "Ana Pérez", "padre"), ("Marta Gómez", "Ana Pérez", "madre"),
                     ("Marta Gómez", "Luis Pérez", "madre")]
