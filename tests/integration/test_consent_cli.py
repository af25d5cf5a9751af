"""``eki consent import`` (a real openpyxl workbook) and ``eki consent show``, then ``eki
chat``: paper consents let a student in without the notice; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from tests.integration.workbooks import xlsx

pytestmark = pytest.mark.consent

ANA, LUIS, MARTA, BETO = "3001112233", "3004445566", "3105550001", "3109876543"


@pytest.fixture
def eki(cli):  # type: ignore[no-untyped-def]
    assert cli("students", "add", "Ana Pérez", ANA)[0] == 0
    assert cli("students", "add", "Luis Pérez", LUIS)[0] == 0
    assert cli("students", "add", "Beto Ruiz", BETO)[0] == 0
    assert cli("guardians", "add", "Marta Gómez", MARTA, "--student", LUIS)[0] == 0
    return cli


def _workbook(tmp_path: Path) -> Path:
    path = tmp_path / "autorizaciones.xlsx"
    path.write_bytes(xlsx([
        ["Autorizaciones de tratamiento de datos 2026"],  # a title above the header
        ["Teléfono", "Fecha", "Versión", "Medio"],
        [ANA, datetime(2026, 2, 1), 1, "Papel"],
        [MARTA, "02/02/2026", None, "papel"],
        [ANA, "2026-02-03", "1", "papel"],  # the same person and version: ignored
        ["3109999999", "2026-02-01", "1", "papel"],  # nobody's phone
        [BETO, "ayer", "1", "papel"],  # not a date
        [BETO, "2026-02-01", "1", "fax"],  # not a medium
        [LUIS, "2030-01-01", "1", "papel"],  # in the future
    ]))
    return path


def test_import_paper_consents_then_chat(eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _workbook(tmp_path)
    code, out, err = eki("consent", "import", str(path), "--strict")
    assert code == 1 and "Modo estricto" in out, err
    code, out, err = eki("consent", "import", str(path), "--dry-run", "--json")
    report = json.loads(out)
    assert code == 0 and report["status"] == "dry_run" and report["created"] == 2, err
    code, out, _ = eki("consent", "show", ANA, "--json")
    assert json.loads(out)["history"] == []  # the dry run wrote nothing

    errors = tmp_path / "errores.xlsx"
    code, out, err = eki("consent", "import", str(path), "--json", "--errors-out", str(errors))
    report = json.loads(out)
    assert code == 0, err
    assert (report["kind"], report["rows_read"], report["created"],
            report["rows_rejected"]) == ("consents", 7, 2, 4)
    codes = {issue["code"] for issue in report["issues"]}
    assert {"DUPLICATE_IN_FILE", "PERSON_NOT_FOUND", "INVALID_DATE", "INVALID_MEDIUM",
            "FUTURE_DATE"} <= codes
    sheet = openpyxl.load_workbook(io.BytesIO(errors.read_bytes())).active
    assert sheet is not None and sheet.max_row == 5  # the header and the 4 rejected rows

    code, out, _ = eki("consent", "import", str(path), "--json")  # again: nothing new
    again = json.loads(out)
    assert (again["created"], again["unchanged"]) == (0, 2)

    code, out, _ = eki("consent", "show", ANA, "--json")
    shown = json.loads(out)
    assert shown["current"] == "granted" and shown["lacking_consent"] is False
    (record,) = shown["history"]
    assert (record["decision"], record["medium"], record["policy_version"],
            record["role"]) == ("granted", "papel", "1", "student")
    assert record["decided_at"].startswith("2026-02-01T12:00")
    assert record["recorded_by"].startswith("cli:") and record["message_id"] is None
    code, out, _ = eki("consent", "show", MARTA)
    assert code == 0 and "autorizado" in out and "como acudiente del estudiante" in out

    code, out, _ = eki("chat", "--phone", ANA, "--message", "hola", "--json")
    assert json.loads(out)["intent"] != "consent_required"  # paper consent: no notice
    code, out, _ = eki("chat", "--phone", BETO, "--message", "hola", "--json")
    assert json.loads(out)["intent"] == "consent_required"
    code, out, _ = eki("chat", "--phone", BETO, "--message", "REVOCAR", "--json")
    assert json.loads(out)["intent"] == "consent_withdrawn"
    code, out, _ = eki("consent", "show", BETO)
    assert "revocó la autorización" in out and "whatsapp" in out

    code, out, _ = eki("audit", "list", "--json")
    actions = [entry["action"] for entry in json.loads(out)]
    assert actions.count("consent_import.run") == 3 and "consent.viewed" in actions


def test_a_paper_consent_older_than_a_withdrawal_does_not_revive_it(
        eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = eki("chat", "--phone", ANA, "--message", "NO ACEPTO", "--json")
    assert json.loads(out)["intent"] == "consent_refused"
    path = tmp_path / "viejas.csv"
    path.write_text("telefono,fecha,version,medio\n" + ANA + ",2026-01-15,1,papel\n",
                    encoding="utf-8")
    code, out, _ = eki("consent", "import", str(path), "--json")
    report = json.loads(out)
    assert code == 0 and report["created"] == 0 and report["unchanged"] == 1
    assert [i["code"] for i in report["issues"]] == ["LATER_DECISION"]
    code, out, _ = eki("consent", "show", ANA, "--json")
    assert json.loads(out)["current"] == "refused"


def test_unreadable_file_and_missing_column(eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "roto.xlsx"
    broken.write_bytes(b"not a workbook")
    assert eki("consent", "import", str(broken))[0] == 2
    missing = tmp_path / "sin_fecha.csv"
    missing.write_text("telefono,medio\n" + ANA + ",papel\n", encoding="utf-8")
    code, _, err = eki("consent", "import", str(missing))
    assert code == 2 and "Falta la columna" in err
