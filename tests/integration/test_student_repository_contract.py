"""One contract for every StudentRepository/UnitOfWork: memory, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from eki_domain import DuplicatePhone, PageRequest, PhoneNumber, Student, StudentNotFound
from eki_domain.ports import UnitOfWorkFactory

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)


def make(name: str, phone: str, *, minutes: int = 0, tags: tuple[str, ...] = (),
         active: bool = True) -> Student:
    return Student.register(
        name,
        PhoneNumber.parse(phone),
        registered_at=T0 + timedelta(minutes=minutes),
        tags=tags,
        active=active,
    )


async def add(uow_factory: UnitOfWorkFactory, *students: Student) -> None:
    async with uow_factory() as uow:
        for student in students:
            await uow.students.add(student)
        await uow.commit()


async def test_add_assigns_id_and_round_trips_every_field(uow_factory: UnitOfWorkFactory) -> None:
    ana = make("Ana  María   Pérez", "300 123 4567", tags=("Grado 10", "fútbol"), active=False)
    await add(uow_factory, ana)
    assert ana.id is not None

    async with uow_factory() as uow:
        by_id = await uow.students.get(ana.id)
        by_phone = await uow.students.get_by_phone("+573001234567")
    assert by_id == ana
    assert by_phone == ana
    assert by_id is not None
    assert by_id.name == "Ana María Pérez"
    assert by_id.tags == {"grado 10", "fútbol"}
    assert by_id.active is False
    assert by_id.registered_at == T0
    assert by_id.registered_at.tzinfo is not None


async def test_nothing_is_stored_without_commit(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.students.add(make("Ana", "3001234567"))
    async with uow_factory() as uow:
        assert await uow.students.get_by_phone("+573001234567") is None
        assert await uow.students.count() == 0


async def test_exception_inside_unit_of_work_rolls_back(uow_factory: UnitOfWorkFactory) -> None:
    with pytest.raises(RuntimeError):
        async with uow_factory() as uow:
            await uow.students.add(make("Ana", "3001234567"))
            raise RuntimeError("boom")
    async with uow_factory() as uow:
        assert await uow.students.count() == 0


async def test_explicit_rollback_discards_changes(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.students.add(make("Ana", "3001234567"))
        await uow.rollback()
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.students.count() == 0


async def test_duplicate_phone_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    await add(uow_factory, make("Ana", "3001234567"))
    with pytest.raises(DuplicatePhone) as caught:
        async with uow_factory() as uow:
            await uow.students.add(make("Otra", "+57 300 123 4567"))
    assert caught.value.e164 == "+573001234567"
    async with uow_factory() as uow:
        assert await uow.students.count() == 1


async def test_save_updates_fields_and_tags(uow_factory: UnitOfWorkFactory) -> None:
    ana = make("Ana", "3001234567", tags=("a", "b"))
    await add(uow_factory, ana)
    async with uow_factory() as uow:
        stored = await uow.students.get_by_phone("+573001234567")
        assert stored is not None
        stored.rename("Ana Gómez")
        stored.deactivate()
        stored.set_tags(["B", "c"])
        stored.change_phone(PhoneNumber.parse("3109876543"))
        await uow.students.save(stored)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.students.get_by_phone("+573001234567") is None
        again = await uow.students.get_by_phone("+573109876543")
    assert again is not None
    assert (again.id, again.name, again.active, again.tags) == (ana.id, "Ana Gómez", False,
                                                                 {"b", "c"})


async def test_save_to_a_taken_phone_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    await add(uow_factory, make("Ana", "3001234567"), make("Beto", "3109876543"))
    with pytest.raises(DuplicatePhone):
        async with uow_factory() as uow:
            beto = await uow.students.get_by_phone("+573109876543")
            assert beto is not None
            beto.change_phone(PhoneNumber.parse("3001234567"))
            await uow.students.save(beto)


async def test_save_of_unknown_student_is_refused(uow_factory: UnitOfWorkFactory) -> None:
    ghost = make("Nadie", "3001234567")
    ghost.id = 999_999
    with pytest.raises(StudentNotFound):
        async with uow_factory() as uow:
            await uow.students.save(ghost)


async def test_find_by_phones_returns_first_matching_candidate(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add(uow_factory, make("Ana", "3001234567"), make("Beto", "3109876543"))
    async with uow_factory() as uow:
        found = await uow.students.find_by_phones(["+570000000000", "+573109876543",
                                                   "+573001234567"])
        none = await uow.students.find_by_phones(["+573150000000"])
        empty = await uow.students.find_by_phones([])
    assert found is not None and found.name == "Beto"
    assert none is None and empty is None


async def test_find_each_by_phones_answers_every_list_in_order(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add(uow_factory, make("Ana", "3001234567"), make("Beto", "3109876543"))
    async with uow_factory() as uow:
        found = await uow.students.find_each_by_phones([
            ["+570000000000", "+573109876543", "+573001234567"],  # the first match wins
            ["+573150000000"],
            [],
            ["+573001234567"],
        ])
        nothing = await uow.students.find_each_by_phones([])
    assert [s.name if s else None for s in found] == ["Beto", None, None, "Ana"]
    assert nothing == []


async def test_get_many_answers_the_stored_ones_by_id(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await add(uow_factory, make("Ana", "3001234567", tags=("grado 10",)),
              make("Beto", "3109876543"))
    async with uow_factory() as uow:
        page = await uow.students.list()
        ids = {s.name: s.id for s in page.items}
        found = await uow.students.get_many([ids["Beto"], 999_999, ids["Ana"], ids["Beto"]])
        nothing = await uow.students.get_many([])
    assert {sid: s.name for sid, s in found.items()} == {ids["Ana"]: "Ana", ids["Beto"]: "Beto"}
    assert found[ids["Ana"]].tags == frozenset({"grado 10"})
    assert nothing == {}


async def test_list_filters_orders_and_paginates(uow_factory: UnitOfWorkFactory) -> None:
    students = [
        make(f"Estudiante {i}", f"30012345{i:02d}", minutes=i,
             tags=("grado 10",) if i % 2 == 0 else ("grado 11",), active=i % 3 != 0)
        for i in range(10)
    ]
    await add(uow_factory, *students)
    async with uow_factory() as uow:
        everything = await uow.students.list()
        page2 = await uow.students.list(page=PageRequest(limit=3, offset=3))
        tenth = await uow.students.list(tag="grado 10")
        active_tenth = await uow.students.list(tag="grado 10", active=True)
        inactive = await uow.students.list(active=False)
        unknown_tag = await uow.students.list(tag="no existe")
        counts = (await uow.students.count(), await uow.students.count(active=True),
                  await uow.students.count(active=False))

    assert [s.name for s in everything.items] == [f"Estudiante {i}" for i in range(9, -1, -1)]
    assert everything.total == 10 and not everything.has_more
    assert [s.name for s in page2.items] == ["Estudiante 6", "Estudiante 5", "Estudiante 4"]
    assert page2.total == 10 and page2.has_more
    assert {s.name for s in tenth.items} == {f"Estudiante {i}" for i in (0, 2, 4, 6, 8)}
    assert {s.name for s in active_tenth.items} == {"Estudiante 2", "Estudiante 4",
                                                    "Estudiante 8"}
    assert active_tenth.total == 3
    assert {s.name for s in inactive.items} == {"Estudiante 0", "Estudiante 3", "Estudiante 6",
                                                "Estudiante 9"}
    assert unknown_tag.total == 0 and unknown_tag.items == ()
    assert counts == (10, 6, 4)


async def test_concurrent_registration_of_one_phone_keeps_one(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async def register(name: str) -> str:
        try:
            async with uow_factory() as uow:
                await uow.students.add(make(name, "3001234567"))
                await uow.commit()
            return "ok"
        except DuplicatePhone:
            return "duplicate"

    outcomes = await asyncio.gather(*(register(f"Ana {i}") for i in range(5)),
                                    return_exceptions=True)
    assert sorted(map(str, outcomes)) == ["duplicate"] * 4 + ["ok"], outcomes
    async with uow_factory() as uow:
        assert await uow.students.count() == 1
