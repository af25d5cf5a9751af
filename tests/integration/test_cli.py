"""The ``eki`` CLI against real databases (in-process), plus the installed script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from eki_entrypoints.cli import run


@pytest.fixture
def eki(cli):  # type: ignore[no-untyped-def]
    return cli


def test_add_show_list(eki) -> None:  # type: ignore[no-untyped-def]
    code, out, err = eki("students", "add", "Ana  Pérez", "300 123 4567", "--tag", "Grado 10")
    assert code == 0, err
    assert "+573001234567" in out and "Ana Pérez" in out

    code, out, _ = eki("students", "show", "573001234567", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["name"] == "Ana Pérez" and data["tags"] == ["grado 10"]

    eki("students", "add", "Beto", "3109876543", "--inactive")
    code, out, _ = eki("students", "list", "--json")
    listing = json.loads(out)
    assert code == 0 and listing["total"] == 2
    code, out, _ = eki("students", "list", "--inactive", "--json")
    assert [s["name"] for s in json.loads(out)["items"]] == ["Beto"]
    code, out, _ = eki("students", "list", "--tag", "GRADO 10")
    assert code == 0 and "Ana Pérez" in out and "Beto" not in out and "1–1 de 1" in out


def test_update_deactivate_and_tag(eki) -> None:  # type: ignore[no-untyped-def]
    eki("students", "add", "Ana", "3001234567")
    assert eki("students", "deactivate", "3001234567")[0] == 0
    code, out, _ = eki("students", "show", "3001234567", "--json")
    assert json.loads(out)["active"] is False
    assert eki("students", "tag", "3001234567", "Coro", "Banda")[0] == 0
    assert eki("students", "tag", "3001234567", "coro", "--remove")[0] == 0
    code, out, _ = eki("students", "update", "3001234567", "--name", "Ana María", "--active",
                       "--json")
    data = json.loads(out)
    assert (data["name"], data["active"], data["tags"]) == ("Ana María", True, ["banda"])


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("students", "add", "Ana", "12345"), "12345"),
        (("students", "add", "   ", "3001234567"), "nombre"),
        (("students", "show", "3109876543"), "No hay ningún estudiante"),
        (("students", "update", "3001234567"), "nothing to change"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(eki, argv, fragment) -> None:  # type: ignore[no-untyped-def]
    code, out, err = eki(*argv)
    assert code == 2
    assert fragment in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_duplicate_phone_exits_2(eki) -> None:  # type: ignore[no-untyped-def]
    eki("students", "add", "Ana", "3001234567")
    code, _, err = eki("students", "add", "Ana bis", "+57 300 123 4567")
    assert code == 2 and "Ya existe" in err


def test_db_upgrade_is_idempotent(eki) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = eki("db", "upgrade")
    assert code == 0 and "already at revision" in out
    code, out, _ = eki("db", "status")
    assert code == 0 and "up to date" in out


def _script() -> str:
    path = Path(sys.executable).with_name("eki")
    return str(path) if path.exists() else "eki"


def test_installed_script_help_and_clean_errors(tmp_path: Path) -> None:
    env = {**os.environ, "EKI_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    for argv in (["--help"], ["students", "--help"], ["students", "add", "--help"]):
        done = subprocess.run([_script(), *argv], capture_output=True, text=True, env=env,
                              check=False)
        assert done.returncode == 0, done.stderr
        assert "usage: eki" in done.stdout

    bad_env = {**env, "EKI_DATABASE_URL": "mysql://nope"}
    done = subprocess.run([_script(), "students", "list"], capture_output=True, text=True,
                          env=bad_env, check=False)
    assert done.returncode == 2
    assert done.stderr.startswith("eki: configuration error: EKI_DATABASE_URL")
    assert "Traceback" not in done.stderr

    down = {**env, "EKI_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/nothing"}
    done = subprocess.run([_script(), "students", "list"], capture_output=True, text=True,
                          env=down, check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("eki: cannot use the database")
    assert "Traceback" not in done.stderr


def test_embedded_sqlite_is_created_on_first_use(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fresh.db"
    monkeypatch.setenv("EKI_DATABASE_URL", f"sqlite:///{path}")
    assert run(["students", "list"]) == 0
    assert path.exists()
