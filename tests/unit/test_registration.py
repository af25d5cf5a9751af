"""The registration use cases, through bootstrap with the in-memory adapters."""

from __future__ import annotations

import pytest

from eki_adapters.memory import InMemoryStore
from eki_adapters.system import FixedClock
from eki_domain import (
    DuplicatePhone,
    InvalidPhoneNumber,
    InvalidStudentName,
    PageRequest,
    RegistrationService,
    StudentNotFound,
)
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Settings


@pytest.fixture
async def registry() -> RegistrationService:
    eki = await bootstrap(Settings(), uow=InMemoryStore().uow, clock=FixedClock())
    return eki.registration


async def test_register_and_find_in_any_format(registry: RegistrationService) -> None:
    ana = await registry.register(" Ana  Pérez ", "300 123 4567", tags=["Grado 10"])
    assert ana.id is not None and ana.phone.e164 == "+573001234567"
    for spelling in ("3001234567", "+57 300 123 4567", "573001234567", "(300) 123-4567",
                     3001234567, 3001234567.0, "0057 300 123 4567"):
        assert (await registry.find(spelling)).id == ana.id


async def test_registered_at_comes_from_the_clock() -> None:
    clock = FixedClock()
    eki = await bootstrap(Settings(), uow=InMemoryStore().uow, clock=clock)
    ana = await eki.registration.register("Ana", "3001234567")
    assert ana.registered_at == clock.now()


async def test_duplicate_phone_in_another_format_is_refused(
    registry: RegistrationService,
) -> None:
    await registry.register("Ana", "3001234567")
    with pytest.raises(DuplicatePhone):
        await registry.register("Ana bis", "+57 (300) 123-4567")
    assert await registry.count() == 1


async def test_invalid_input_is_refused_before_storage(registry: RegistrationService) -> None:
    with pytest.raises(InvalidPhoneNumber):
        await registry.register("Ana", "12")
    with pytest.raises(InvalidStudentName):
        await registry.register("  ", "3001234567")
    assert await registry.count() == 0


async def test_unknown_student(registry: RegistrationService) -> None:
    with pytest.raises(StudentNotFound) as caught:
        await registry.find("3109876543")
    assert "+573109876543" in caught.value.message
    assert await registry.find_or_none("3109876543") is None
    assert await registry.find_or_none("not a phone") is None
    with pytest.raises(StudentNotFound):
        await registry.deactivate("3109876543")


async def test_update_activate_tag(registry: RegistrationService) -> None:
    await registry.register("Ana", "3001234567", tags=["a"])
    updated = await registry.update("300 123 4567", name="Ana Gómez", new_phone="3109876543",
                                    tags=["B"], active=False)
    assert (updated.name, updated.phone.e164, updated.tags, updated.active) == (
        "Ana Gómez", "+573109876543", {"b"}, False)
    assert (await registry.activate("3109876543")).active
    assert (await registry.tag("3109876543", "Coro", "c")).tags == {"b", "coro", "c"}
    assert (await registry.untag("3109876543", "B")).tags == {"coro", "c"}
    with pytest.raises(StudentNotFound):
        await registry.find("3001234567")


async def test_update_to_a_phone_of_another_student_is_refused(
    registry: RegistrationService,
) -> None:
    await registry.register("Ana", "3001234567")
    await registry.register("Beto", "3109876543")
    with pytest.raises(DuplicatePhone):
        await registry.update("3109876543", new_phone="+573001234567")
    assert (await registry.find("3109876543")).name == "Beto"


async def test_list_by_tag_and_state_with_pagination(registry: RegistrationService) -> None:
    for i in range(7):
        student = await registry.register(f"E{i}", f"30000000{i:02d}",
                                          tags=["grado 9"] if i < 4 else [])
        if i % 2:
            await registry.deactivate(student.phone)
    page = await registry.list(tag="GRADO 9", active=True, page=PageRequest(limit=1))
    assert page.total == 2 and len(page.items) == 1 and page.has_more
    assert (await registry.list(active=False)).total == 3


async def test_whatsapp_sender_ids_find_records_despite_country_quirks(
    registry: RegistrationService,
) -> None:
    mx = await registry.register("Lupita", "+52 55 1234 5678")
    # WhatsApp may report Mexican senders with the old mobile '1'.
    assert (await registry.find("5215512345678")).id == mx.id
