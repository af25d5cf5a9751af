"""Student imports end to end on SQLite and PostgreSQL, from real files."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import openpyxl
import pytest

from eki_adapters.spreadsheets import CalamineSpreadsheetReader, write_errors_file
from eki_adapters.sql import imports as sql_imports
from eki_domain import ImportInProgress, ImportMode, ImportStatus, PageRequest
from eki_domain.model.roster import plan_roster, validate_student_rows
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings
from tests.integration.workbooks import xlsx

READER = CalamineSpreadsheetReader()


HEADER = ["Nombre", "Teléfono", "Activo", "Etiquetas"]
ROWS = [
    HEADER,
    ["Ana Pérez", 3001234567, "sí", "Grado 10, Coro"],
    ["Beto Ruiz", "+57 310 987 6543", "no", ""],
    ["Carla Díaz", 3151234567.0, None, "grado 11"],
    ["Dani", "3.00123E+09", "", ""],  # digits lost → error
    ["Eva", 3001234567, "", ""],  # duplicate of row 2 → error
]


@pytest.fixture
async def eki(database_url: str) -> AsyncIterator[Eki]:
    app = await bootstrap(Settings(database_url=database_url))
    yield app
    await app.aclose()


async def run(eki: Eki, rows: Sequence[Sequence[object]], **kwargs: object):  # type: ignore[no-untyped-def]
    return await eki.student_import.import_sheet(READER.read(xlsx(rows), "estudiantes.xlsx"),
                                                 **kwargs)  # type: ignore[arg-type]


async def test_import_then_reimport_is_all_unchanged(eki: Eki) -> None:
    first = await run(eki, ROWS)
    report = first.report
    assert (report.status, report.rows_read, report.created, report.updated,
            report.unchanged) == (ImportStatus.COMPLETED, 5, 3, 0, 0)
    assert report.rows_rejected == 2 and report.errors == 2
    assert [r.row for r in first.failed_rows] == [5, 6]

    ana = await eki.registration.find("3001234567")
    assert (ana.name, ana.active, ana.tags) == ("Ana Pérez", True, {"grado 10", "coro"})
    beto = await eki.registration.find("3109876543")
    assert beto.active is False

    again = (await run(eki, ROWS)).report
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert await eki.registration.count() == 3


async def test_changes_are_counted_exactly(eki: Eki) -> None:
    await run(eki, ROWS)
    changed = [
        HEADER,
        ["Ana Pérez", 3001234567, "sí", "Grado 10"],  # one tag fewer → updated
        ["Beto Ruiz", 3109876543, "sí", ""],  # reactivated → updated
        ["Carla Díaz", 3151234567, "", "grado 11"],  # same → unchanged
        ["Fabio", 3201234567, "", ""],  # new → created
    ]
    report = (await run(eki, changed)).report
    assert (report.created, report.updated, report.unchanged) == (1, 2, 1)
    ana = await eki.registration.find("3001234567")
    assert ana.tags == {"grado 10"}
    assert (await eki.registration.find("3109876543")).active is True
    tagged = await eki.registration.list(tag="coro")
    assert tagged.total == 0


async def test_dry_run_writes_nothing_and_reports_the_same_counts(eki: Eki) -> None:
    dry = (await run(eki, ROWS, dry_run=True)).report
    assert dry.status is ImportStatus.DRY_RUN and dry.dry_run
    assert await eki.registration.count() == 0
    real = (await run(eki, ROWS)).report
    assert (dry.created, dry.updated, dry.unchanged, dry.errors, dry.warnings) == (
        real.created, real.updated, real.unchanged, real.errors, real.warnings)
    assert "Simulación" in dry.message


async def test_strict_mode_is_all_or_nothing(eki: Eki) -> None:
    rejected = (await run(eki, ROWS, mode=ImportMode.STRICT)).report
    assert rejected.status is ImportStatus.REJECTED
    assert (rejected.created, rejected.updated) == (0, 0)
    assert await eki.registration.count() == 0
    clean = (await run(eki, ROWS[:4], mode=ImportMode.STRICT)).report
    assert clean.status is ImportStatus.COMPLETED and clean.created == 3


async def test_every_import_is_in_the_history_with_its_failed_rows(eki: Eki) -> None:
    result = await run(eki, ROWS)
    await run(eki, ROWS, dry_run=True)
    with pytest.raises(Exception, match="Falta la columna"):
        await run(eki, [["Nombre", "Correo"], ["Ana", "a@b.co"]])
    async with eki.uow() as uow:
        history = await uow.imports.recent(kind="students")
        failed = await uow.imports.failed_rows(result.job_id)
    assert [h.status for h in history] == ["failed", "dry_run", "completed"]
    assert history[-1].created == 3 and history[-1].sha256 == result.report.sha256
    assert failed is not None
    headers, rows = failed
    assert headers == tuple(HEADER)
    assert [r.row for r in rows] == [5, 6]
    assert rows[0].cells[1] == "3.00123E+09"


async def test_errors_file_round_trip(eki: Eki) -> None:
    result = await run(eki, ROWS)
    content = write_errors_file(result.headers, result.failed_rows, "xlsx")
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    sheet = workbook.active
    assert sheet is not None
    values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert values[0] == [*HEADER, "fila_original", "errores"]
    assert values[1][0] == "Dani" and values[1][4] == 5 and "notación" in values[1][5]
    # The secretary fixes the phones and uploads the same file again.
    sheet["B2"] = "3001230001"
    sheet["B3"] = "3001230002"
    fixed = io.BytesIO()
    workbook.save(fixed)
    report = (await eki.student_import.import_sheet(
        READER.read(fixed.getvalue(), "errores.xlsx"))).report
    assert (report.created, report.errors, report.warnings) == (2, 0, 0)


async def test_a_second_concurrent_import_is_told_to_wait(database_url: str) -> None:
    first = await bootstrap(Settings(database_url=database_url))
    second = await bootstrap(Settings(database_url=database_url))
    try:
        async with first.uow() as holder:
            assert await holder.imports.try_lock("students")
            with pytest.raises(ImportInProgress) as caught:
                await asyncio.wait_for(run(second, ROWS), timeout=10)
        assert "en curso" in caught.value.message
        report = (await run(second, ROWS)).report  # free again once the first one ended
        assert report.created == 3
    finally:
        await first.aclose()
        await second.aclose()


async def test_large_import_and_listing(eki: Eki) -> None:
    rows: list[list[object]] = [["nombre", "celular", "grupo"]]
    rows += [[f"Estudiante {i}", 3000000000 + i, f"grado {i % 3}"] for i in range(3000)]
    report = (await run(eki, rows)).report
    assert (report.created, report.errors) == (3000, 0)
    page = await eki.registration.list(tag="grado 1", page=PageRequest(limit=10))
    assert page.total == 1000
    again = (await run(eki, rows)).report
    assert again.unchanged == 3000


async def test_names_with_backslashes_and_quotes_survive_bulk_writes(eki: Eki) -> None:
    rows = [["nombre", "telefono", "etiquetas"],
            ["Ana \\ Pérez \"la mona\"", 3001234567, "a\\b, c'd"]]
    assert (await run(eki, rows)).report.created == 1
    ana = await eki.registration.find("3001234567")
    assert ana.name == 'Ana \\ Pérez "la mona"'
    assert ana.tags == {"a\\b", "c'd"}
    assert (await run(eki, rows)).report.unchanged == 1


async def test_a_student_registered_between_lookup_and_write_is_updated_not_duplicated(
        eki: Eki) -> None:
    """The write runs with what the lookup saw: a phone that was free then but taken now
    (a registration in between) is updated, its tags replaced, next to real new rows."""
    await eki.registration.register("Ana Vieja", "3001234567", tags=["coro", "grado 9"])
    rows = [["nombre", "telefono", "etiquetas"],
            ["Ana Pérez", 3001234567, "grado 10"], ["Beto Ruiz", 3109876543, "grado 10"]]
    sheet = READER.read(xlsx(rows), "estudiantes.xlsx")
    validation = validate_student_rows(sheet, "CO")
    stale = plan_roster(validation.records, {})  # as if nobody had either phone yet
    assert len(stale.creates) == 2
    async with eki.uow() as uow:
        await uow.roster.write(stale, datetime.now(UTC))
        await uow.commit()
    ana = await eki.registration.find("3001234567")
    assert (ana.name, ana.tags) == ("Ana Pérez", {"grado 10"})
    beto = await eki.registration.find("3109876543")
    assert (beto.name, beto.tags) == ("Beto Ruiz", {"grado 10"})
    assert (await eki.registration.list(page=PageRequest(limit=10))).total == 2
    again = (await run(eki, rows)).report
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)


async def test_the_big_file_lookup_settings_give_the_same_counts(
        eki: Eki, monkeypatch: pytest.MonkeyPatch) -> None:
    """Files over PG_HASH_JOIN_THRESHOLD phones look students up with planner settings of
    their own (SET LOCAL, reset after): the same answers, and the transaction goes on."""
    monkeypatch.setattr(sql_imports, "PG_HASH_JOIN_THRESHOLD", 1)
    first = (await run(eki, ROWS)).report
    assert (first.created, first.updated, first.unchanged) == (3, 0, 0)
    changed = [*ROWS[:2], ["Beto Ruiz", "+57 310 987 6543", "sí", "coro"], *ROWS[3:]]
    again = (await run(eki, changed)).report
    assert (again.created, again.updated, again.unchanged) == (0, 1, 2)
    beto = await eki.registration.find("3109876543")
    assert (beto.active, beto.tags) == (True, {"coro"})


@pytest.mark.parametrize("look_up_all", [2, 0], ids=["stored-read-at-once", "by-phone"])
async def test_stored_students_read_at_once_or_by_phone_give_the_same_counts(
        eki: Eki, monkeypatch: pytest.MonkeyPatch, look_up_all: int) -> None:
    """A file about the size of the roster reads every stored student at once
    (existing_all); a smaller one looks up its phones: the same counts and end state."""
    from eki_domain.services import student_import

    monkeypatch.setattr(student_import, "LOOK_UP_ALL_FACTOR", look_up_all)
    await eki.registration.register("Ana Vieja", "3001234567", tags=["coro"])
    await eki.registration.register("Beto Ruiz", "3109876543", tags=["grado 10"])
    rows: list[list[object]] = [
        ["nombre", "telefono", "etiquetas"],
        ["Ana Pérez", 3001234567, "grado 10"],  # updated
        ["Beto Ruiz", 3109876543, "grado 10"],  # unchanged
        ["Carla", 3151234567, "grado 11"],  # created
        ["Sin teléfono", "", "grado 11"],  # error
        ["Otra Ana", 3001234567, ""],  # duplicate of row 2
    ]
    report = (await run(eki, rows)).report
    assert (report.created, report.updated, report.unchanged, report.rows_rejected) == (
        1, 1, 1, 2)
    ana = await eki.registration.find("3001234567")
    assert (ana.name, ana.tags) == ("Ana Pérez", {"grado 10"})
    again = (await run(eki, rows)).report
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)


async def test_every_stored_student_is_read_at_once_only_up_to_a_limit(eki: Eki) -> None:
    await eki.registration.register("Ana Pérez", "3001234567", tags=["coro", "grado 9"])
    await eki.registration.register("Beto Ruiz", "3109876543", active=False)
    async with eki.uow() as uow:
        assert await uow.roster.existing_all(at_most=1) is None
        stored = await uow.roster.existing_all(at_most=2)
    assert stored is not None and set(stored) == {"+573001234567", "+573109876543"}
    ana, beto = stored["+573001234567"], stored["+573109876543"]
    assert (ana.name, ana.active, ana.tags) == ("Ana Pérez", True, {"coro", "grado 9"})
    assert (beto.name, beto.active, beto.tags) == ("Beto Ruiz", False, frozenset())
