"""The guardians port on every backend (memory, SQLite, PostgreSQL), and the family service
that audits its changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eki_adapters.system import FixedClock
from eki_domain.errors import DuplicateGuardianPhone, GuardianNotFound, StudentNotFound
from eki_domain.model.audit import AuditFilter
from eki_domain.model.guardian import Guardian, GuardianLink, Relationship, SubjectMemory
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import Principal
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.services.families import FamilyService
from eki_domain.services.staff import Caller

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
CLI = Caller(Principal.cli("rectoria"), user_agent="eki-cli")


async def _students(uow_factory: UnitOfWorkFactory, *names_phones: tuple[str, str]) -> list[int]:
    ids = []
    async with uow_factory() as uow:
        for name, phone in names_phones:
            added = await uow.students.add(Student.register(
                name, PhoneNumber.parse(phone), registered_at=NOW))
            ids.append(added.id or 0)
        await uow.commit()
    return ids


async def test_guardians_links_and_memory_round_trip(uow_factory: UnitOfWorkFactory) -> None:
    ana, luis = await _students(uow_factory, ("Ana Pérez", "3001112233"),
                                ("Luis Pérez", "3004445566"))
    async with uow_factory() as uow:
        marta = await uow.guardians.add(Guardian.register(
            "  Marta   Gómez ", PhoneNumber.parse("310 555 0001"), created_at=NOW))
        assert marta.id is not None and marta.name == "Marta Gómez"
        await uow.guardians.link(GuardianLink(marta.id, luis, Relationship.MADRE, priority=2))
        await uow.guardians.link(GuardianLink(marta.id, ana, Relationship.MADRE,
                                              may_see_grades=False))
        await uow.commit()
    async with uow_factory() as uow:  # uncommitted work leaves no trace
        await uow.guardians.add(Guardian.register("Pedro", PhoneNumber.parse("3105550002"),
                                                  created_at=NOW))
    async with uow_factory() as uow:
        assert [g.name for g in await uow.guardians.list()] == ["Marta Gómez"]
        found = await uow.guardians.find_by_phones(["+573009999999", "+573105550001"])
        assert found == marta
        links = await uow.guardians.links_of_guardian(marta.id)
        assert [(k.student_id, k.may_see_grades, k.priority) for k in links] == [
            (ana, False, 1), (luis, True, 2)]
        assert [k.guardian_id for k in await uow.guardians.links_of_student(luis)] == [marta.id]
        # re-linking replaces the flags
        await uow.guardians.link(GuardianLink(marta.id, ana, Relationship.OTRO))
        assert await uow.guardians.memory(marta.id) == SubjectMemory()
        memory = SubjectMemory(student_id=luis, chosen_at=NOW, question="¿cómo va?",
                               asked_at=NOW)
        await uow.guardians.remember(marta.id, memory)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.guardians.memory(marta.id) == memory
        links = await uow.guardians.links_of_student(ana)
        assert links[0].relationship is Relationship.OTRO and links[0].may_see_grades
        assert await uow.guardians.unlink(marta.id, ana)
        assert not await uow.guardians.unlink(marta.id, ana)
        marta.rename("Marta Lucía Gómez")
        await uow.guardians.save(marta)
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.guardians.get(marta.id)
        assert again is not None and again.name == "Marta Lucía Gómez"
        assert [k.student_id for k in await uow.guardians.links_of_guardian(marta.id)] == [luis]
    with pytest.raises(DuplicateGuardianPhone):
        async with uow_factory() as uow:
            await uow.guardians.add(Guardian.register("Otra", PhoneNumber.parse("3105550001"),
                                                      created_at=NOW))


async def test_a_phone_may_be_a_student_and_a_guardian(uow_factory: UnitOfWorkFactory) -> None:
    (adult, kid) = await _students(uow_factory, ("Carolina Ruiz", "3201234567"),
                                   ("Sofía Ruiz", "3207654321"))
    async with uow_factory() as uow:
        guardian = await uow.guardians.add(Guardian.register(
            "Carolina Ruiz", PhoneNumber.parse("3201234567"), created_at=NOW))
        await uow.guardians.link(GuardianLink(guardian.id or 0, kid))
        await uow.commit()
    async with uow_factory() as uow:
        assert (await uow.students.find_by_phones(["+573201234567"])) is not None
        assert (await uow.guardians.find_by_phones(["+573201234567"])) is not None
        assert adult != kid


async def test_family_service_links_and_audits(uow_factory: UnitOfWorkFactory) -> None:
    ana, luis = await _students(uow_factory, ("Ana Pérez", "3001112233"),
                                ("Luis Pérez", "3004445566"))
    families = FamilyService(uow_factory, FixedClock(NOW))  # type: ignore[arg-type]
    marta, _ = await families.add(CLI, "Marta Gómez", "+57 310 555 0001",
                                  student_phone="300 111 2233", relationship="Mamá")
    again, _ = await families.add(CLI, "Marta Gómez", "3105550001",
                                  student_phone="3004445566", relationship="mama",
                                  may_see_grades=False)
    assert again.id == marta.id  # a guardian shared by siblings
    links = await families.links()
    assert [(k.student.id, k.link.relationship, k.link.may_see_grades) for k in links] == [
        (ana, Relationship.MADRE, True), (luis, Relationship.MADRE, False)]
    assert [k.guardian.name for k in await families.links(student_phone="3004445566")] == [
        "Marta Gómez"]
    assert await families.unlink(CLI, "3105550001", student_phone="3001112233")
    assert not await families.unlink(CLI, "3105550001", student_phone="3001112233")
    with pytest.raises(StudentNotFound):
        await families.add(CLI, "X Y", "3105550009", student_phone="3009999999")
    with pytest.raises(GuardianNotFound):
        await families.unlink(CLI, "3105550009", student_phone="3001112233")
    async with uow_factory() as uow:
        page = await uow.audit.list(AuditFilter(), PageRequest(limit=50))  # type: ignore[attr-defined]
    actions = sorted(entry.action for entry in page.items)
    assert actions == ["guardian.created", "guardian.linked", "guardian.linked",
                       "guardian.unlinked"]
    assert {entry.actor for entry in page.items} == {"cli:rectoria"}
