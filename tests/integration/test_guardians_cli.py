"""``eki guardians`` and ``eki chat`` for a guardian, against real databases (in-process)."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def eki(cli):  # type: ignore[no-untyped-def]
    return cli


def test_add_list_show_unlink_and_chat(eki) -> None:  # type: ignore[no-untyped-def]
    assert eki("students", "add", "Ana Pérez", "3001112233")[0] == 0
    assert eki("students", "add", "Luis Pérez", "3004445566")[0] == 0
    code, out, err = eki("guardians", "add", "Marta Gómez", "+57 310 555 0001",
                         "--student", "300 111 2233", "--relationship", "Mamá")
    assert code == 0, err
    assert "Marta Gómez (+573105550001) vinculado a Ana Pérez" in out
    code, out, err = eki("guardians", "add", "Marta Gómez", "3105550001", "--student",
                         "3004445566", "--relationship", "mamá", "--no-grades", "--no-alerts")
    assert code == 0, err
    code, out, _ = eki("guardians", "list", "--json")
    rows = json.loads(out)
    assert [(r["student"], r["relationship"], r["may_see_grades"], r["may_receive_alerts"])
            for r in rows] == [("Ana Pérez", "madre", True, True),
                               ("Luis Pérez", "madre", False, False)]
    code, out, _ = eki("guardians", "list", "--student", "3004445566")
    assert code == 0 and "Marta Gómez (madre) → Luis Pérez [sin notas, sin avisos]" in out
    code, out, _ = eki("students", "show", "3001112233", "--json")
    assert [g["phone"] for g in json.loads(out)["guardians"]] == ["+573105550001"]
    code, out, _ = eki("students", "show", "3001112233")
    assert "acudiente: +573105550001" in out

    code, out, _ = eki("chat", "--phone", "3105550001", "--message", "¿cómo van?", "--json")
    answer = json.loads(out)
    assert code == 0 and "¿Sobre quién quieres consultar?" in answer["reply"]
    assert answer["about"] is None
    code, out, _ = eki("chat", "--phone", "3105550001", "--message", "1", "--json")
    answer = json.loads(out)
    assert answer["about"] == "+573001112233" and answer["reply"].startswith("Sobre *Ana*")
    code, out, _ = eki("chat", "--phone", "3001112233", "--message", "hola", "--json")
    assert json.loads(out)["about"] == "+573001112233"

    assert eki("guardians", "unlink", "3105550001", "--student", "3001112233")[0] == 0
    code, _, _ = eki("guardians", "unlink", "3105550001", "--student", "3001112233")
    assert code == 1
    code, out, _ = eki("audit", "list", "--json")
    actions = [entry["action"] for entry in json.loads(out)]
    assert actions.count("guardian.linked") == 2 and "guardian.unlinked" in actions


def test_errors_are_explained(eki) -> None:  # type: ignore[no-untyped-def]
    code, _, err = eki("guardians", "add", "Marta", "3105550001", "--student", "3009999999")
    assert code == 2 and "No hay ningún estudiante" in err
    eki("students", "add", "Ana Pérez", "3001112233")
    code, _, err = eki("guardians", "add", "Marta", "3105550001", "--student", "3001112233",
                       "--relationship", "vecina")
    assert code == 2 and "Parentesco «vecina» no reconocido" in err
    code, _, err = eki("guardians", "unlink", "3105550001", "--student", "3001112233")
    assert code == 2 and "acudiente" in err
