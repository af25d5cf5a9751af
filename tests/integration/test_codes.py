"""Verification codes end to end: ``eki codes issue`` writes a real xlsx, an unknown number
redeems a code through ``eki chat``, reuse, brute force, approval and expiry — SQLite and
PostgreSQL (the CLI) and the service on every backend (expiry, re-issue)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from eki_adapters.system import FixedClock
from eki_domain.model.codes import ALPHABET, CodePurpose, looks_like_code, read_code
from eki_domain.model.permissions import Principal
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.services.codes import LOCKED, WRONG, CodeDesk, IssuedCode
from eki_domain.services.staff import Caller
from eki_entrypoints.families import codes_workbook

MOTHER, STRANGER = "3105550001", "3105550077"


@pytest.fixture
def eki(cli):  # type: ignore[no-untyped-def]
    for args in (("Ana Pérez", "3001112233", "--tag", "grado 5"),
                 ("Luis Pérez", "3004445566", "--tag", "grado 9")):
        assert cli("students", "add", *args)[0] == 0
    return cli


def _codes(path: Path) -> dict[str, str]:
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Estudiante", "Etiquetas", "Código", "Vence", "Para")
    return {str(row[0]): str(row[2]) for row in rows[1:]}


def chat(eki, phone: str, text: str) -> dict:  # type: ignore[no-untyped-def]
    code, out, err = eki("chat", "--phone", phone, "--message", text, "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_issue_redeem_reuse_and_lock(eki, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "codigos.xlsx"
    code, printed, err = eki("codes", "issue", "--tag", "grado 5", "--out", str(out))
    assert code == 0, err and "1 código(s)" in printed
    codes = _codes(out)
    assert list(codes) == ["Ana Pérez"]
    shown = codes["Ana Pérez"]
    assert len(shown) == 9 and shown[4] == "-" and set(shown.replace("-", "")) <= set(ALPHABET)

    linked = chat(eki, MOTHER, f"código {shown.lower()}")
    assert "acudiente de Ana" in linked["reply"] and linked["intent"] == "verification_code"
    answer = chat(eki, MOTHER, "notas")
    assert answer["about"] == "+573001112233"
    again = chat(eki, STRANGER, shown)  # single use
    assert again["reply"] == WRONG
    for _ in range(3):
        assert chat(eki, STRANGER, "ZZZZ-9999")["reply"] == WRONG
    assert chat(eki, STRANGER, "ZZZZ-9998")["reply"] == LOCKED  # the fifth wrong code

    # re-issuing revokes the old code; even a good code is refused while locked
    eki("codes", "issue", "--out", str(out))
    fresh = _codes(out)
    assert set(fresh) == {"Ana Pérez", "Luis Pérez"} and fresh["Ana Pérez"] != shown
    assert chat(eki, STRANGER, fresh["Luis Pérez"])["reply"] == LOCKED
    assert "acudiente de Luis" in chat(eki, "3105550088", fresh["Luis Pérez"])["reply"]
    _, audit, _ = eki("audit", "list", "--json")
    actions = [entry["action"] for entry in json.loads(audit)]
    assert actions.count("code.redeemed") == 2 and actions.count("code.locked") == 1
    assert actions.count("guardian.linked") == 2 and actions.count("code.failed") == 5


def test_approval_and_codes_for_students(eki, tmp_path: Path,  # type: ignore[no-untyped-def]
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "codigos.xlsx"
    monkeypatch.setenv("EKI_CODE_APPROVAL", "1")
    eki("codes", "issue", "--tag", "grado 5", "--out", str(out))
    reply = chat(eki, MOTHER, _codes(out)["Ana Pérez"])["reply"]
    assert "aprobar" in reply
    assert chat(eki, MOTHER, "notas")["intent"] == "unknown_sender"  # not linked yet
    _, pending, _ = eki("codes", "pending", "--json")
    assert [p["phone"] for p in json.loads(pending)] == ["+573105550001"]
    assert eki("codes", "approve", MOTHER)[0] == 0
    assert chat(eki, MOTHER, "notas")["about"] == "+573001112233"
    assert eki("codes", "approve", MOTHER)[0] == 2  # nothing left
    assert eki("codes", "reject", "no es un número")[0] == 2

    # a rejected redemption links nobody; the number (it just wrote) is told
    father = "3105550077"
    eki("codes", "issue", "--tag", "grado 5", "--out", str(out))
    assert "aprobar" in chat(eki, father, _codes(out)["Ana Pérez"])["reply"]
    code, said, _ = eki("codes", "reject", father)
    assert code == 0 and "rechazado" in said and "se avisó" in said
    assert chat(eki, father, "notas")["intent"] == "unknown_sender"
    _, pending, _ = eki("codes", "pending", "--json")
    assert json.loads(pending) == []

    monkeypatch.setenv("EKI_CODE_APPROVAL", "0")
    eki("codes", "issue", "--for", "students", "--tag", "grado 9", "--out", str(out))
    new_phone = "3207770000"
    reply = chat(eki, new_phone, _codes(out)["Luis Pérez"])["reply"]
    assert "quedó registrado como el tuyo" in reply
    _, shown, _ = eki("students", "show", new_phone, "--json")
    assert json.loads(shown)["name"] == "Luis Pérez"


def test_reading_codes() -> None:
    assert read_code("ABCD-2345") == "ABCD2345"
    assert read_code("código abcd 2345.") == "ABCD2345"
    assert read_code("Codigo: ABCD2345") == "ABCD2345"
    assert read_code("ABCD-2340") is None  # 0 is not in the alphabet
    assert read_code("hola, ¿cómo está?") is None
    assert looks_like_code("ABCD-0000") and not looks_like_code("buenos dias")
    assert not looks_like_code("3001234567") and not looks_like_code("GRACIASS")


async def test_codes_expire_and_reissue_revokes(uow_factory: UnitOfWorkFactory) -> None:
    now = datetime(2026, 3, 2, 15, tzinfo=UTC)
    clock = FixedClock(now)
    async with uow_factory() as uow:
        await uow.students.add(Student.register("Ana Pérez", PhoneNumber.parse("3001112233"),
                                                registered_at=now))
        await uow.commit()
    desk = CodeDesk(uow_factory, clock, days=30)  # type: ignore[arg-type]
    cli = Caller(Principal.cli("tests"))
    (first,) = await desk.issue(cli)
    (second,) = await desk.issue(cli, purpose=CodePurpose.GUARDIAN)
    assert await desk.redeem("573105550001", first.code) == WRONG  # revoked by re-issuing
    clock.advance(timedelta(days=30, seconds=1))
    assert await desk.redeem("573105550001", second.code) == WRONG  # expired
    (third,) = await desk.issue(cli)
    assert "acudiente de Ana" in await desk.redeem("573105550001", third.code)


def test_codes_workbook_cells_are_inert(tmp_path: Path) -> None:
    """A name or tag that looks like a formula is written as text, never as ``<f>``."""
    now = datetime(2026, 12, 7, tzinfo=UTC)
    name, tag = '=HYPERLINK("http://x.test","clic")', "+grado"
    student = Student(name=name, phone=PhoneNumber.parse("3001112233", "CO"),
                      registered_at=now, tags=frozenset({tag}))
    data = codes_workbook([IssuedCode(student, "ABCD-2345", now)], CodePurpose.GUARDIAN)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml
    path = tmp_path / "codigos.xlsx"
    path.write_bytes(data)
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    row = next(sheet.iter_rows(min_row=2, max_row=2))
    assert [(c.value, c.data_type) for c in row[:2]] == [(name, "s"), (tag, "s")]
