"""The repository parts the families web pages added (issue 17), on memory, SQLite and
PostgreSQL: the paginated, searchable, scoped guardian listing and rejecting a redemption."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from eki_domain.model.codes import CodePurpose, VerificationCode
from eki_domain.model.guardian import Guardian, GuardianLink
from eki_domain.model.pagination import PageRequest
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student
from eki_domain.ports import UnitOfWorkFactory

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


async def test_guardian_page_search_student_and_scope(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        ana = await uow.students.add(Student.register(
            "Ana", PhoneNumber.parse("3001112233"), registered_at=NOW, tags={"grado 10"}))
        bruno = await uow.students.add(Student.register(
            "Bruno", PhoneNumber.parse("3004445566"), registered_at=NOW, tags={"grado 11"}))
        assert ana.id and bruno.id
        made = {}
        for name, phone in (("Marta Gómez", "3105550001"), ("Pedro 100%_x", "3105550002"),
                            ("Luz Díaz", "3105550003"), ("Nadie Solo", "3105550004")):
            made[name] = await uow.guardians.add(Guardian.register(
                name, PhoneNumber.parse(phone), created_at=NOW))
        await uow.guardians.link(GuardianLink(made["Marta Gómez"].id or 0, ana.id))
        await uow.guardians.link(GuardianLink(made["Marta Gómez"].id or 0, bruno.id))
        await uow.guardians.link(GuardianLink(made["Pedro 100%_x"].id or 0, bruno.id))
        await uow.guardians.link(GuardianLink(made["Luz Díaz"].id or 0, ana.id))
        await uow.commit()
    async with uow_factory() as uow:
        def names(page):  # type: ignore[no-untyped-def]
            return [g.name for g in page.items]
        everyone = await uow.guardians.page()
        assert names(everyone) == ["Luz Díaz", "Marta Gómez", "Nadie Solo", "Pedro 100%_x"]
        assert everyone.total == 4 and not everyone.has_more
        second = await uow.guardians.page(page=PageRequest(limit=2, offset=2))
        assert names(second) == ["Nadie Solo", "Pedro 100%_x"] and second.total == 4
        assert names(await uow.guardians.page(search="góMEZ")) == ["Marta Gómez"]
        assert names(await uow.guardians.page(search="555 0003")) == ["Luz Díaz"]
        assert names(await uow.guardians.page(search="%_")) == ["Pedro 100%_x"]
        assert names(await uow.guardians.page(search="%x")) == []
        assert names(await uow.guardians.page(student_id=bruno.id)) == [
            "Marta Gómez", "Pedro 100%_x"]
        scoped = await uow.guardians.page(any_tags=frozenset({"grado 10"}))
        assert names(scoped) == ["Luz Díaz", "Marta Gómez"] and scoped.total == 2
        assert (await uow.guardians.page(any_tags=frozenset())).total == 0
        assert names(await uow.guardians.page(any_tags=frozenset({"grado 11"}),
                                              search="pedro")) == ["Pedro 100%_x"]


async def test_rejecting_a_pending_redemption(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        ana = await uow.students.add(Student.register(
            "Ana", PhoneNumber.parse("3001112233"), registered_at=NOW))
        assert ana.id
        ids = []
        for digest in ("a" * 64, "b" * 64, "c" * 64):
            code = await uow.codes.issue(VerificationCode(
                code_hash=digest, student_id=ana.id, purpose=CodePurpose.GUARDIAN,
                created_at=NOW, expires_at=NOW + timedelta(days=30)))
            ids.append(code.id or 0)
        await uow.commit()
    first, second, unused = ids
    later = NOW + timedelta(minutes=5)
    async with uow_factory() as uow:
        # issuing revoked the earlier unused codes: only the last can be redeemed
        assert not await uow.codes.redeem(first, later, "+573105550001", approved=False)
        assert not await uow.codes.reject(unused, later)  # not redeemed: nothing to reject
        assert await uow.codes.redeem(unused, later, "+573105550001", approved=False)
        assert [c.id for c in await uow.codes.pending()] == [unused]
        assert await uow.codes.reject(unused, later)
        assert not await uow.codes.reject(unused, later)
        assert not await uow.codes.approve(unused, later)  # a rejection is final
        assert not await uow.codes.reject(second, later)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.codes.pending() == []
        found = await uow.codes.find("c" * 64)
        assert found is not None and found.revoked_at is not None
        assert found.used_by == "+573105550001" and found.approved_at is None
