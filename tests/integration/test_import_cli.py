"""``eki students import`` with real files: exit codes, JSON, the errors file."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from eki_entrypoints.cli import run


@pytest.fixture
def eki(cli):  # type: ignore[no-untyped-def]
    return cli


@pytest.fixture
def lista(tmp_path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in (["Nombre", "Teléfono", "Activo"], ["Ana", 3001234567, "sí"],
                ["Beto", 3109876543, "no"], ["Carla", "3.00123E+09", ""]):
        sheet.append(row)
    path = tmp_path / "lista.xlsx"
    workbook.save(path)
    return path


def test_import_prints_a_summary_and_exits_0_with_row_errors(eki, lista: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = eki("students", "import", str(lista))
    assert code == 0, err
    assert "2 creados" in out and "Fila 4" in out and "notación científica" in out
    code, out, _ = eki("students", "list", "--json")
    assert json.loads(out)["total"] == 2


def test_json_report_dry_run_and_errors_out(eki, lista: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    errors = tmp_path / "errores.csv"
    code, out, err = eki("students", "import", str(lista), "--dry-run", "--json",
                         "--errors-out", str(errors))
    assert code == 0
    report = json.loads(out)
    assert report["dry_run"] is True and report["created"] == 2
    assert report["issues"][0] == {
        "row": 4, "column": "Teléfono", "value": "3.00123E+09", "normalized": None,
        "severity": "error", "code": "SCIENTIFIC_NOTATION_DIGITS_LOST",
        "message": report["issues"][0]["message"],
    }
    assert set(report) >= {"file", "sha256", "mode", "dry_run", "rows_read", "created",
                           "updated", "unchanged", "errors", "warnings", "duration_ms", "issues"}
    content = errors.read_bytes().decode("utf-8-sig").splitlines()
    assert content[0] == "Nombre;Teléfono;Activo;fila_original;errores"
    assert content[1].startswith("Carla;3.00123E+09;;4;")
    assert "errores.csv" in err
    _, out, _ = eki("students", "list", "--json")
    assert json.loads(out)["total"] == 0


def test_strict_rejection_exits_1(eki, lista: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = eki("students", "import", str(lista), "--strict")
    assert code == 1 and "Modo estricto" in out


def test_unreadable_file_and_misuse_exit_2(eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake = tmp_path / "lista.xlsx"
    fake.write_text("nombre,telefono\nAna,3001234567\n")
    code, _, err = eki("students", "import", str(fake))
    assert code == 2 and "CSV renombrado" in err and err.count("\n") == 1
    code, _, err = eki("students", "import", str(tmp_path / "missing.xlsx"))
    assert code == 2 and "file not found" in err
    with pytest.raises(SystemExit) as caught:
        run(["students", "import", str(fake), "--country", "Narnia"])
    assert caught.value.code == 2


def test_country_option(eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "mx.csv"
    path.write_text("nombre,telefono\nLupita,55 1234 5678\n", encoding="utf-8")
    code, out, _ = eki("students", "import", str(path), "--country", "mx", "--json")
    assert code == 0 and json.loads(out)["created"] == 1
    _, out, _ = eki("students", "show", "+525512345678", "--json")
    assert json.loads(out)["region"] == "MX"


def test_sample_file_in_docs_imports_cleanly(eki) -> None:  # type: ignore[no-untyped-def]
    sample = Path(__file__).resolve().parents[2] / "docs" / "examples" / "estudiantes.csv"
    code, out, err = eki("students", "import", str(sample), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["errors"] == 0 and report["created"] >= 3


def test_import_history_command(eki, lista: Path) -> None:  # type: ignore[no-untyped-def]
    eki("students", "import", str(lista), "--dry-run")
    eki("students", "import", str(lista))
    code, out, _ = eki("imports", "list")
    assert code == 0
    lines = out.splitlines()
    assert "completed" in lines[0] and "dry_run" in lines[1] and "lista.xlsx" in lines[0]
    code, out, _ = eki("imports", "list", "--json", "--limit", "1")
    data = json.loads(out)
    assert len(data) == 1 and data[0]["created"] == 2 and data[0]["status"] == "completed"


def test_progress_bar_draws_only_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from eki_entrypoints.cli.importing import ProgressBar

    ProgressBar(enabled=False)("validating", 50, 100)
    assert capsys.readouterr().err == ""
    bar = ProgressBar(enabled=True)
    bar("validating", 50, 100)
    bar("validating", 50, 100)  # same percentage: not redrawn
    bar("writing", 100, 100)
    err = capsys.readouterr().err
    assert err.count("validando") == 1 and "50%" in err and err.endswith("100% (100/100)\n")


def test_unreadable_files_are_in_the_history_too(eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fake = tmp_path / "pagina.xls"
    fake.write_text("<html><table><tr><td>Ana</td></tr></table></html>")
    assert eki("students", "import", str(fake))[0] == 2
    _, out, _ = eki("imports", "list", "--json")
    [record] = json.loads(out)
    assert (record["status"], record["file"]) == ("failed", "pagina.xls")
    assert "página web" in record["message"]


def test_a_fresh_sqlite_file_is_migrated_by_the_import(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The import opens only what it uses (``importing.open_importer``): an embedded SQLite
    file is still migrated on the fly, as every command does."""
    sample = Path(__file__).resolve().parents[2] / "docs" / "examples" / "estudiantes.csv"
    monkeypatch.setenv("EKI_DATABASE_URL", f"sqlite:///{tmp_path / 'nuevo.db'}")
    assert run(["students", "import", str(sample), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["created"] >= 3
    assert run(["students", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] >= 3


@pytest.mark.postgres
def test_a_server_database_behind_the_schema_is_refused(
        postgres_url: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """An empty PostgreSQL database (no schema): the import, like every command, asks for
    `eki db upgrade` (exit 2) and migrates nothing."""
    import secrets

    import psycopg
    from sqlalchemy.engine import make_url

    from tests.conftest import ADMIN_URL, _conninfo

    name = f"eki_behind_{secrets.token_hex(4)}"
    with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    sample = Path(__file__).resolve().parents[2] / "docs" / "examples" / "estudiantes.csv"
    monkeypatch.setenv("EKI_DATABASE_URL", url)
    try:
        for argv in (["students", "import", str(sample)], ["guardians", "import", str(sample)],
                     ["students", "list"]):
            assert run(argv) == 2
            assert "run `eki db upgrade` first" in capsys.readouterr().err
        with psycopg.connect(_conninfo(url)) as conn:
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                                ).fetchone() == (0,)
    finally:
        with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
