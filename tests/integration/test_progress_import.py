"""Gradebook, attendance and enrolment imports end to end (SQLite and PostgreSQL), the
progress API, the cache invalidation and the student's tools through `eki chat`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from eki_adapters.spreadsheets import CalamineSpreadsheetReader
from eki_adapters.system import FixedClock
from eki_domain import ImportMode, ImportStatus
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.cli import run
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from tests.integration.workbooks import xlsx

READER = CalamineSpreadsheetReader()
ANA, BETO = "3001234567", "3109876543"
GRADES = [
    ["Teléfono", "Curso", "Actividad", "Nota", "Nota máxima", "Peso", "Fecha de entrega",
     "Periodo"],
    [ANA, "Matemáticas", "Taller 1", "4,5", None, 30, "2026-02-10", "P1"],
    [ANA, "Matemáticas", "Quiz", 45, 50, 20, "10/02/2026", "P1"],
    [ANA, "Matemáticas", "Examen final", None, None, 50, "2026-03-20", "P1"],
    [ANA, "Inglés", "Oral", "excusa", None, None, None, "P1"],
    [ANA, "Inglés", "Writing", 3.2, None, None, None, "P1"],
    [BETO, "Matemáticas", "Taller 1", 2.5, None, 30, "2026-02-10", "P1"],
    ["3159999999", "Matemáticas", "Taller 1", 4.0, None, 30, None, "P1"],  # not a student
    [ANA, "Matemáticas", "Taller 2", 7.5, None, None, None, "P1"],  # out of range
    [ANA, "Matemáticas", "Taller 3", 4.0, None, None, "31/02/2026", "P1"],  # bad date
    [ANA, "Matemáticas", "Quiz", 40, 50, 20, None, "P1"],  # duplicate of row 3
]
ATTENDANCE = [
    ["telefono", "curso", "fecha", "estado", "periodo"],
    *[[ANA, "Matemáticas", f"2026-02-{d:02d}", "presente", "P1"] for d in range(2, 9)],
    [ANA, "Matemáticas", "2026-02-09", "ausente", "P1"],
    [ANA, "Matemáticas", "2026-02-10", "tarde", "P1"],
    [ANA, "Matemáticas", "2026-02-11", "excusa", "P1"],
    [ANA, "Matemáticas", "2026-02-12", "quizás", "P1"],  # bad status
]


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    clock = FixedClock(datetime(2026, 3, 1, 15, tzinfo=UTC))
    app = await bootstrap(Settings(database_url=database_url, admin_token=Secret("t")),
                          clock=clock)
    await app.registration.register("Ana María Pérez", ANA)
    await app.registration.register("Beto Ruiz", BETO)
    yield app
    await app.aclose()


async def import_rows(eki: Eki, rows: Sequence[Sequence[object]], **kwargs: object):  # type: ignore[no-untyped-def]
    return await eki.progress_import.import_sheet(READER.read(xlsx(rows), "notas.xlsx"),
                                                  **kwargs)  # type: ignore[arg-type]


async def test_gradebook_import_report_and_reimport(eki: Eki) -> None:
    result = await import_rows(eki, GRADES)
    report = result.report
    assert report.status is ImportStatus.COMPLETED
    assert (report.rows_read, report.created, report.updated, report.unchanged) == (10, 6, 0, 0)
    codes = {i.row: i.code for i in report.issues}
    assert codes == {8: "UNKNOWN_STUDENT", 9: "SCORE_OUT_OF_RANGE", 10: "INVALID_DATE",
                     11: "DUPLICATE_IN_FILE"}
    assert report.message.startswith("Notas:")
    again = (await import_rows(eki, GRADES)).report
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)

    ana = await eki.registration.find(ANA)
    assert ana.id is not None
    progress = await eki.progress.report(ana.id)
    math = next(c for c in progress.courses if c.course == "Matemáticas")
    # (4.5·30 + 4.5·20) / 50 = 4.5 so far; the final exam is pending
    assert math.average == 4.5 and math.band == "Alto" and math.passing
    assert (math.graded, math.total) == (2, 3)
    assert [p.title for p in math.pending] == ["Examen final"]
    english = next(c for c in progress.courses if c.course == "Inglés")
    assert english.average == 3.2 and (english.graded, english.total) == (1, 1)


async def test_changed_scores_invalidate_the_cached_report(eki: Eki) -> None:
    await import_rows(eki, GRADES[:2])
    ana = await eki.registration.find(ANA)
    assert ana.id is not None
    first = await eki.progress.report(ana.id)
    assert first.courses[0].average == 4.5
    assert await eki.progress.report(ana.id) is first  # cached
    changed = [GRADES[0], [ANA, "Matemáticas", "Taller 1", 3.0, None, 30, None, "P1"]]
    report = (await import_rows(eki, changed)).report
    assert report.updated == 1
    assert (await eki.progress.report(ana.id)).courses[0].average == 3.0


async def test_dry_run_and_strict(eki: Eki) -> None:
    dry = (await import_rows(eki, GRADES, dry_run=True)).report
    assert dry.status is ImportStatus.DRY_RUN and dry.created == 6
    strict = (await import_rows(eki, GRADES, mode=ImportMode.STRICT)).report
    assert strict.status is ImportStatus.REJECTED and strict.created == 0
    ana = await eki.registration.find(ANA)
    assert ana.id is not None
    assert (await eki.progress.report(ana.id)).courses == ()
    real = (await import_rows(eki, GRADES)).report
    assert (real.created, real.errors) == (dry.created, dry.errors)


async def test_attendance_import(eki: Eki) -> None:
    report = (await import_rows(eki, ATTENDANCE)).report
    assert report.message.startswith("Asistencia:")
    assert (report.created, report.errors) == (10, 1)
    ana = await eki.registration.find(ANA)
    assert ana.id is not None
    math = (await eki.progress.report(ana.id)).courses[0]
    assert (math.absences, math.late, math.excused) == (1, 1, 1)
    assert math.attendance_rate == pytest.approx(8 / 9)
    changed = [ATTENDANCE[0], [ANA, "Matemáticas", "2026-02-09", "excusa", "P1"]]
    assert (await import_rows(eki, changed)).report.updated == 1


async def test_enrollments_and_kind_override(eki: Eki) -> None:
    rows = [["telefono", "curso", "periodo", "codigo"], [ANA, "Artes", "P1", "ART-1"],
            [BETO, "Artes", "P1", "ART-1"]]
    report = (await import_rows(eki, rows)).report
    assert report.message.startswith("Matrículas:") and report.created == 2
    ana = await eki.registration.find(ANA)
    assert ana.id is not None
    arts = (await eki.progress.report(ana.id)).courses[0]
    assert (arts.course, arts.code, arts.average) == ("Artes", "ART-1", None)
    with pytest.raises(Exception, match="No se reconoce"):
        await import_rows(eki, [["nombre", "correo"], ["Ana", "a@b.co"]])


@pytest.fixture
def client(eki: Eki) -> Iterator[TestClient]:
    with TestClient(create_app(eki.settings, eki=eki)) as test_client:
        yield test_client


def test_http_import_and_progress_api(client: TestClient) -> None:
    auth = {"Authorization": "Bearer t"}
    response = client.post("/api/progress/import", headers=auth, files={
        "file": ("notas.xlsx", xlsx(GRADES), "application/octet-stream")})
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 6
    csv_body = "telefono;curso;fecha;estado\n3001234567;Matemáticas;02/02/2026;ausente\n"
    response = client.post("/api/progress/import?kind=attendance", headers=auth, files={
        "file": ("asistencia.csv", csv_body.encode("cp1252"), "text/csv")})
    assert response.json()["created"] == 1
    progress = client.get(f"/api/students/{ANA}/progress", headers=auth).json()
    assert progress["student"]["name"] == "Ana María Pérez"
    math = next(c for c in progress["courses"] if c["course"] == "Matemáticas")
    assert math["average"] == 4.5 and math["attendance"]["absences"] == 1
    only_math = client.get(f"/api/students/{ANA}/progress?course=mate", headers=auth).json()
    assert [c["course"] for c in only_math["courses"]] == ["Matemáticas"]
    assert client.get(f"/api/students/{ANA}/progress").status_code == 401
    bad = client.post("/api/progress/import?kind=nope", headers=auth, json=[])
    assert bad.status_code == 400


def test_cli_import_and_chat_answers_from_the_data(database_url: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("EKI_DATABASE_URL", database_url)
    path = tmp_path / "notas.xlsx"
    path.write_bytes(xlsx(GRADES))
    assert run(["students", "add", "Ana María Pérez", ANA]) == 0
    capsys.readouterr()
    assert run(["progress", "import", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "progress" and report["created"] == 5  # Beto is not registered
    assert run(["chat", "--phone", ANA, "--message", "¿cómo voy en mate? 🙏", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["intent"] == "progreso" and "get_my_progress" in answer["tools"]
    assert "4,5" in answer["reply"] and "Matemáticas" in answer["reply"]
    assert run(["chat", "--phone", ANA, "--message", "qué tengo pendiente", "--json"]) == 0
    pending = json.loads(capsys.readouterr().out)
    assert "Examen final" in pending["reply"]
    assert run(["imports", "list", "--kind", "progress", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["kind"] == "progress"
