"""``eki staff`` and ``eki audit`` against SQLite and PostgreSQL (in-process)."""

from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa

from eki_adapters.sql import create_engine
from eki_entrypoints.cli.staff import cli_caller

GOOD = "caballo correcto bateria grapa"


@pytest.fixture
def eki(cli):  # type: ignore[no-untyped-def]
    return cli


def test_add_list_update_disable(eki, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD + "\n"))
    code, out, err = eki("staff", "add", "Rectora@Colegio.co", "--name", "Marta Gómez",
                         "--role", "admin", "--password-stdin")
    assert code == 0, err
    assert "rectora@colegio.co" in out and "Enlace" not in out
    code, out, err = eki("staff", "add", "profe@colegio.co", "--name", "Luis Díaz",
                         "--role", "teacher", "--tag", "Grado 10", "--tag", "coro")
    assert code == 0, err
    link = re.search(r"/admin/setup/([\w-]+)", out)
    assert link is not None and len(link.group(1)) >= 40
    code, out, _ = eki("staff", "list", "--json")
    listing = json.loads(out)
    assert [(m["email"], m["role"], m["tags"], m["has_password"]) for m in listing] == [
        ("profe@colegio.co", "teacher", ["coro", "grado 10"], False),
        ("rectora@colegio.co", "admin", [], True)]
    assert "hash" not in out and GOOD not in out
    code, out, _ = eki("staff", "update", "PROFE@colegio.co", "--role", "coordinator",
                       "--no-tags")
    assert code == 0 and "coordinator" in out
    assert eki("staff", "disable", "profe@colegio.co")[0] == 0
    code, out, _ = eki("staff", "show", "profe@colegio.co", "--json")
    assert json.loads(out)["active"] is False
    assert eki("staff", "enable", "profe@colegio.co")[0] == 0
    code, out, _ = eki("staff", "reset-password", "profe@colegio.co")
    assert code == 0 and "/admin/setup/" in out


@pytest.mark.parametrize(("argv", "fragment"), [
    (("staff", "add", "no-es-correo", "--name", "Ana Pérez", "--role", "viewer"),
     "no es un correo válido"),
    (("staff", "add", "a@colegio.co", "--name", "Ana", "--role", "rector"), "admin, coordinator"),
    (("staff", "update", "nadie@colegio.co", "--name", "X Y"), "No hay ninguna cuenta"),
    (("staff", "update", "nadie@colegio.co"), "nothing to change"),
    (("staff", "token", "revoke", "999"), "no active token"),
])
def test_mistakes_exit_2_with_one_line(eki, argv: tuple[str, ...], fragment: str) -> None:  # type: ignore[no-untyped-def]
    code, _, err = eki(*argv)
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err


def test_a_bad_date_is_a_usage_error(eki, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exited:
        eki("audit", "list", "--since", "ayer")
    assert exited.value.code == 2
    assert "not an ISO date" in capsys.readouterr().err


def test_weak_password_on_stdin_is_refused(eki, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.StringIO("password1234\n"))
    code, _, err = eki("staff", "add", "a@colegio.co", "--name", "Ana Pérez", "--role",
                       "admin", "--password-stdin")
    assert code == 2 and "común" in err
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = eki("staff", "add", "a@colegio.co", "--name", "Ana Pérez", "--role",
                       "admin", "--password-stdin")
    assert code == 2 and "empty" in err


def test_tokens_and_the_audit_log(eki, database_url: str) -> None:  # type: ignore[no-untyped-def]
    assert eki("staff", "add", "a@colegio.co", "--name", "Ana Pérez", "--role", "admin")[0] == 0
    code, out, err = eki("staff", "token", "create", "a@colegio.co", "--name", "notas",
                         "--days", "30")
    assert code == 0, err
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("eki_pat_") and len(secret) > 40
    code, out, _ = eki("staff", "token", "list", "a@colegio.co", "--json")
    tokens = json.loads(out)
    assert [t["label"] for t in tokens] == ["notas"] and secret not in out
    assert eki("staff", "token", "revoke", str(tokens[0]["id"]))[0] == 0

    code, out, _ = eki("audit", "list", "--json")
    rows = json.loads(out)
    assert [r["action"] for r in rows] == [
        "staff.token_revoked", "staff.token_created", "staff.created"]
    assert all(set(r) == {"at", "actor", "action", "target_type", "target_id", "ip",
                          "user_agent", "details"} for r in rows)
    assert {r["actor"] for r in rows} == {cli_caller().principal.actor}
    code, out, _ = eki("audit", "list", "--action", "staff.created", "--json")
    assert [r["target_id"] for r in json.loads(out)] == ["a@colegio.co"]
    code, out, _ = eki("audit", "list", "--actor", "nadie@colegio.co")
    assert code == 0 and "No hay entradas" in out

    # Nothing in the database holds the token or a password in clear.
    engine = create_engine(database_url)

    async def dump() -> str:
        async with engine.connect() as conn:
            rows = []
            for table in ("staff_members", "staff_api_tokens", "staff_setup_links",
                          "audit_log"):
                rows += [repr(tuple(r)) for r in await conn.execute(sa.text(
                    f"SELECT * FROM {table}"))]
        await engine.dispose()
        return "\n".join(rows)

    import asyncio
    assert secret not in asyncio.run(dump())


def test_student_commands_and_imports_are_audited_as_the_operator(  # type: ignore[no-untyped-def]
        eki, tmp_path) -> None:
    assert eki("students", "add", "Ana Pérez", "3001234567", "--tag", "grado 10")[0] == 0
    assert eki("students", "update", "3001234567", "--name", "Ana María Pérez")[0] == 0
    assert eki("students", "tag", "3001234567", "coro")[0] == 0
    sheet = tmp_path / "alumnos.csv"
    sheet.write_text("nombre,telefono\nBeto Ruiz,3009876543\n", encoding="utf-8")
    assert eki("students", "import", str(sheet), "--dry-run")[0] == 0
    assert eki("students", "import", str(sheet))[0] == 0
    code, out, _ = eki("audit", "list", "--json")
    rows = json.loads(out)
    actor = cli_caller().principal.actor
    assert [(r["actor"], r["action"]) for r in rows] == [
        (actor, "import.run"), (actor, "student.updated"), (actor, "student.updated"),
        (actor, "student.created")]
    assert rows[0]["details"]["created"] == 1 and rows[0]["details"]["via"] == "cli"
    assert rows[1]["details"]["changed"] == "tags"
