"""Staff accounts, tokens, setup links and the audit log on every backend (memory, SQLite,
PostgreSQL), through the service that uses them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from eki_adapters.passwords import Argon2PasswordHasher, TotpSecondFactor
from eki_adapters.system import FixedClock
from eki_domain.errors import DuplicateStaffEmail, InvalidCredentials, SignInLocked
from eki_domain.model.audit import AuditEntry, AuditFilter
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import Principal
from eki_domain.model.staff import Role, StaffMember
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.services.staff import ACCOUNT_FAILURES, Caller, StaffService

NOW = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
GOOD = "caballo correcto bateria grapa"
CLI = Caller(Principal.cli("rectoria"), ip="127.0.0.1", user_agent="eki-cli")


def service(uow_factory: UnitOfWorkFactory, clock: FixedClock) -> StaffService:
    hasher = Argon2PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return StaffService(uow_factory, hasher, clock, TotpSecondFactor())  # type: ignore[arg-type]


async def test_members_round_trip(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        added = await uow.staff.add(StaffMember.create(  # type: ignore[attr-defined]
            "Profe@Colegio.co", "Luz Marina Díaz", "teacher", created_at=NOW,
            tags=["Grado 10", "coro"]))
        await uow.commit()
    assert added.id is not None
    async with uow_factory() as uow:
        found = await uow.staff.get_by_email("profe@colegio.co")  # type: ignore[attr-defined]
        assert found == added
        assert found.tags == {"grado 10", "coro"} and found.role is Role.TEACHER
        found.change_role(Role.ADMIN)
        found.set_password_hash("$argon2id$v=19$fake")
        await uow.staff.save(found)  # type: ignore[attr-defined]
        await uow.commit()
    async with uow_factory() as uow:
        again = await uow.staff.get(added.id)  # type: ignore[attr-defined]
        assert again is not None and again.role is Role.ADMIN
        assert again.session_epoch == 2 and again.password_hash == "$argon2id$v=19$fake"
        assert await uow.staff.count_active_admins() == 1  # type: ignore[attr-defined]
        assert [m.email for m in await uow.staff.list()] == ["profe@colegio.co"]  # type: ignore[attr-defined]
    with pytest.raises(DuplicateStaffEmail):
        async with uow_factory() as uow:
            await uow.staff.add(StaffMember.create(  # type: ignore[attr-defined]
                "profe@colegio.co", "Otra Persona", "viewer", created_at=NOW))


async def test_service_flows(uow_factory: UnitOfWorkFactory) -> None:
    clock = FixedClock(NOW)
    staff = service(uow_factory, clock)
    _, link = await staff.add(CLI, "ana@colegio.co", "Ana Pérez", "admin")
    assert link is not None
    await staff.complete_setup(link, GOOD, ip="10.1.1.1")
    with pytest.raises(InvalidCredentials):
        await staff.complete_setup(link, GOOD)
    member = await staff.sign_in("ana@colegio.co", GOOD, ip="10.1.1.1", user_agent="Firefox")
    token = await staff.create_token(CLI, "ana@colegio.co", "notas", days=7)
    assert (await staff.principal_for_token(token.secret)) == Principal.staff(member)
    assert token.token.id is not None
    assert await staff.revoke_token(CLI, token.token.id)
    assert await staff.principal_for_token(token.secret) is None
    for _ in range(ACCOUNT_FAILURES):
        with pytest.raises(InvalidCredentials):
            await staff.sign_in("ana@colegio.co", "no es la clave", ip="10.9.9.9")
    with pytest.raises(SignInLocked):
        await staff.sign_in("ana@colegio.co", GOOD, ip="10.1.1.1")
    clock.advance(timedelta(minutes=16))
    await staff.sign_in("ana@colegio.co", GOOD, ip="10.1.1.1")
    async with uow_factory() as uow:
        page = await uow.audit.list(AuditFilter(), PageRequest(limit=100))  # type: ignore[attr-defined]
        fails = await uow.audit.list(  # type: ignore[attr-defined]
            AuditFilter(action="staff.sign_in_failed", since=NOW), PageRequest(limit=3))
    assert [e.action for e in reversed(page.items)] == [
        "staff.created", "staff.password_set", "staff.sign_in", "staff.token_created",
        "staff.token_revoked", *["staff.sign_in_failed"] * ACCOUNT_FAILURES, "staff.sign_in"]
    assert fails.total == ACCOUNT_FAILURES and len(fails.items) == 3
    created = page.items[-1]
    assert created.actor == "cli:rectoria" and created.ip == "127.0.0.1"
    assert created.details == {"role": "admin", "tags": None}
    assert [e.user_agent for e in page.items if e.action == "staff.sign_in"] == [None, "Firefox"]


async def test_a_setup_link_is_used_once_under_concurrency(
        uow_factory: UnitOfWorkFactory) -> None:
    staff = service(uow_factory, FixedClock(NOW))
    _, link = await staff.add(CLI, "t@colegio.co", "Tomás Ruiz", "teacher")
    assert link is not None
    results = await asyncio.gather(*(staff.complete_setup(link, GOOD + str(n))
                                     for n in range(3)), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, StaffMember)) == 1
    assert all(isinstance(r, StaffMember | InvalidCredentials) for r in results)


async def test_audit_filters_and_bounds(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for n in range(5):
            await uow.audit.append(AuditEntry(  # type: ignore[attr-defined]
                at=NOW + timedelta(minutes=n), actor="a@colegio.co" if n % 2 else "system",
                action="student.viewed", target_type="student", target_id=f"+5730012345{n:02}",
                ip="10.0.0.1", user_agent="x" * 1000, details={"ruta": "/api", "n": n}))
        await uow.commit()
    async with uow_factory() as uow:
        mine = await uow.audit.list(AuditFilter(actor="a@colegio.co"),  # type: ignore[attr-defined]
                                    PageRequest())
        window = await uow.audit.list(AuditFilter(  # type: ignore[attr-defined]
            since=NOW + timedelta(minutes=1), until=NOW + timedelta(minutes=3)), PageRequest())
        times = await uow.audit.times_of(  # type: ignore[attr-defined]
            "student.viewed", since=NOW + timedelta(minutes=2), ip="10.0.0.1")
    assert [e.details["n"] for e in mine.items] == [3, 1]
    assert [e.details["n"] for e in window.items] == [2, 1]
    assert times == [NOW + timedelta(minutes=m) for m in (2, 3, 4)]
    assert all(len(e.user_agent or "") == 300 for e in mine.items)
