"""The student import's batches on the in-memory adapters (the SQL ones: the integration
tests): records written while the next ones are validated, the stored students read at
once or batch by batch, and the same end state either way."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eki_adapters.memory import InMemoryStore
from eki_adapters.system import FixedClock
from eki_domain.model import roster
from eki_domain.model.imports import ImportMode, sheet_from_records
from eki_domain.services import student_import
from eki_domain.services.student_import import StudentImportService

ROWS = [
    {"nombre": "Ana Pérez", "telefono": "3001234567", "etiquetas": "grado 10"},
    {"nombre": "Beto Ruiz", "telefono": "3109876543", "etiquetas": "grado 10"},
    {"nombre": "Carla", "telefono": "3151234567", "etiquetas": "grado 11"},
    {"nombre": "Sin teléfono", "telefono": "", "etiquetas": ""},
    {"nombre": "Dani", "telefono": "3161234567", "etiquetas": ""},
    {"nombre": "Otra Ana", "telefono": "3001234567", "etiquetas": ""},
]


@pytest.mark.parametrize("look_up_all", [2, 0])
@pytest.mark.parametrize("mode", [ImportMode.DEFAULT, ImportMode.STRICT])
async def test_batches_give_the_counts_and_state_of_one_write(
        monkeypatch: pytest.MonkeyPatch, look_up_all: int, mode: ImportMode) -> None:
    monkeypatch.setattr(roster, "RECORDS_PER_BATCH", 2)
    monkeypatch.setattr(student_import, "LOOK_UP_ALL_FACTOR", look_up_all)
    store = InMemoryStore()
    service = StudentImportService(store.uow, FixedClock(datetime(2026, 12, 7, tzinfo=UTC)),
                                   write_while_validating=True)
    first = (await service.import_sheet(sheet_from_records(ROWS[:2], "a.xlsx"))).report
    assert first.created == 2
    report = (await service.import_sheet(sheet_from_records(
        [{**ROWS[0], "etiquetas": "coro"}, *ROWS[1:]], "b.xlsx"), mode=mode)).report
    if mode is ImportMode.STRICT:  # two rows with errors: nothing written
        assert (report.created, report.updated, report.rows_rejected) == (0, 0, 2)
    else:
        assert (report.created, report.updated, report.unchanged, report.rows_rejected) == (
            2, 1, 1, 2)
    async with store.uow() as uow:
        stored = await uow.roster.existing_all(at_most=10)
        assert await uow.roster.existing_all(at_most=1) is None
    assert stored is not None
    expected = 2 if mode is ImportMode.STRICT else 4
    assert len(stored) == expected
    tags = {"coro"} if mode is ImportMode.DEFAULT else {"grado 10"}
    assert stored["+573001234567"].tags == tags
