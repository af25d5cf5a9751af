"""The in-memory roster reads every stored student at once, as the SQL ones do
(tests/integration/test_student_import.py), only up to a limit."""

from __future__ import annotations

from datetime import UTC, datetime

from eki_adapters.memory import InMemoryStore
from eki_adapters.system import FixedClock
from eki_domain.model.imports import sheet_from_records
from eki_domain.services.student_import import StudentImportService


async def test_every_stored_student_at_once_only_up_to_a_limit() -> None:
    store = InMemoryStore()
    service = StudentImportService(store.uow, FixedClock(datetime(2026, 12, 7, tzinfo=UTC)))
    rows = [{"nombre": "Ana Pérez", "telefono": "3001234567", "etiquetas": "coro"},
            {"nombre": "Beto Ruiz", "telefono": "3109876543", "activo": "no"}]
    assert (await service.import_sheet(sheet_from_records(rows, "a.xlsx"))).report.created == 2
    async with store.uow() as uow:
        assert await uow.roster.existing_all(at_most=1) is None
        stored = await uow.roster.existing_all(at_most=2)
    assert stored is not None and set(stored) == {"+573001234567", "+573109876543"}
    assert (stored["+573001234567"].name, stored["+573001234567"].tags) == ("Ana Pérez",
                                                                             {"coro"})
    assert stored["+573109876543"].active is False
    again = (await service.import_sheet(sheet_from_records(rows, "a.xlsx"))).report
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
