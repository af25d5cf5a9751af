"""Template broadcasts (issue #16) on memory, SQLite and PostgreSQL: the audience and its
exclusions, per-recipient parameters, queueing exactly once (also after an interrupted
run), counts rolled up from delivery statuses, pause / resume / cancel with their audit
entries, scheduled broadcasts, and who may do it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from eki_adapters.system.clock import FixedClock
from eki_domain.model.audit import AuditFilter
from eki_domain.model.broadcasts import (
    Audience,
    Broadcast,
    BroadcastState,
    BroadcastStateError,
)
from eki_domain.model.guardian import Guardian, GuardianLink
from eki_domain.model.messages import DeliveryStatus, Purpose, StatusReport
from eki_domain.model.pacing import DAILY_WINDOW
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import PermissionDenied, Principal, PrincipalKind, Role
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import Student
from eki_domain.model.templates import MessageTemplate, TemplateStatus
from eki_domain.ports.repositories import UnitOfWorkFactory
from eki_domain.services.broadcasts import RESUME_AFTER, BroadcastService, BroadcastSpec
from eki_domain.services.staff import Caller

T0 = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
ADMIN = Caller(Principal.cli("rectora"))
TEMPLATE = MessageTemplate.create("reunion_padres", "es", "utility",
                                  "Hola {{1}}: reunión de {{2}} el viernes.",
                                  status=TemplateStatus.APPROVED, updated_at=datetime(
                                      2026, 12, 1, tzinfo=UTC))


def phone(n: int) -> PhoneNumber:
    return PhoneNumber.parse(f"+57300555{n:04d}")


async def seed(uow_factory: UnitOfWorkFactory) -> dict[str, int]:
    """Five students of 10A (one inactive, one opted out, one without WhatsApp), one of
    11B; guardians: Rosa (two children in 10A), Pedro (not allowed to receive messages)."""
    ids: dict[str, int] = {}
    async with uow_factory() as uow:
        await uow.templates.upsert(TEMPLATE)
        for n, (name, tags, active) in enumerate([
                ("Ana Pérez", {"10a"}, True), ("Luis Gómez", {"10a", "futbol"}, True),
                ("Marta Ruiz", {"10a"}, False), ("Sofía Díaz", {"10a"}, True),
                ("Juan Mora", {"10a", "futbol"}, True), ("Eva Soto", {"11b"}, True)]):
            student = await uow.students.add(Student.register(
                name, phone(n), registered_at=T0, tags=tags, active=active))
            assert student.id is not None
            ids[name.split()[0]] = student.id
        rosa = await uow.guardians.add(Guardian.register("Rosa Pérez", phone(100),
                                                         created_at=T0))
        pedro = await uow.guardians.add(Guardian.register("Pedro Gómez", phone(101),
                                                          created_at=T0))
        assert rosa.id is not None and pedro.id is not None
        await uow.guardians.link(GuardianLink(rosa.id, ids["Ana"], priority=1))
        await uow.guardians.link(GuardianLink(rosa.id, ids["Juan"], priority=2))
        await uow.guardians.link(GuardianLink(pedro.id, ids["Luis"],
                                              may_receive_alerts=False))
        await uow.opt_outs.opt_out(phone(3).e164, ids["Sofía"], T0)  # Sofía
        await uow.no_whatsapp.mark(phone(4).e164.lstrip("+"), T0, "131026")  # Juan
        await uow.commit()
    return ids


def service(uow_factory: UnitOfWorkFactory, clock: FixedClock, **kw: object
            ) -> BroadcastService:
    return BroadcastService(uow_factory, clock, channel="meta", **kw)  # type: ignore[arg-type]


def spec(**kw: object) -> BroadcastSpec:
    values: dict[str, object] = {
        "name": "Reunión de padres", "template": "reunion_padres",
        "params": ("{nombre}", "{curso}"), "audience": Audience.of(["10a"])}
    values.update(kw)
    return BroadcastSpec(**values)  # type: ignore[arg-type]


async def outbox_rows(uow_factory: UnitOfWorkFactory, broadcast_id: int) -> list[tuple]:
    async with uow_factory() as uow:
        results = await uow.broadcasts.results(broadcast_id, 1000)
    return [(r.to, r.status) for r in results]


async def test_preview_counts_recipients_and_exclusions(
        uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    clock = FixedClock(T0)
    svc = service(uow_factory, clock)
    preview = await svc.preview(ADMIN, spec(audience=Audience.of(["10a"], to="both")))
    # Students: Ana, Luis (Marta inactive, Sofía opted out, Juan without WhatsApp);
    # guardians: Rosa once (two children); Pedro may not receive messages.
    assert preview.recipients == 3
    assert preview.excluded_json() == {
        "inactive": 1, "guardian_not_allowed": 1, "opted_out": 1, "no_whatsapp": 1,
        "no_consent": 0}
    assert preview.fit_today == 3
    async with uow_factory() as uow:  # a dry run stores nothing
        assert await uow.broadcasts.recent() == []

    class NoConsentForAna:
        async def lacking_consent(self, phones: object, ledger: object = None) -> set[str]:
            return {phone(0).e164}

    svc.consent = NoConsentForAna()
    preview = await svc.preview(ADMIN, spec(audience=Audience.of(["futbol", "10a"],
                                                                 all_tags=True)))
    assert (preview.recipients, preview.excluded_json()["no_whatsapp"]) == (1, 1)  # Luis
    preview = await svc.preview(ADMIN, spec())
    assert preview.excluded_json()["no_consent"] == 1


async def test_queued_once_per_recipient_with_their_own_parameters(
        uow_factory: UnitOfWorkFactory) -> None:
    ids = await seed(uow_factory)
    clock = FixedClock(T0)
    svc = service(uow_factory, clock)
    broadcast, preview = await svc.create(ADMIN, spec(audience=Audience.of(["10a"],
                                                                           to="both")))
    assert broadcast.id is not None and broadcast.state is BroadcastState.SENDING
    assert preview.recipients == 3
    async with uow_factory() as uow:
        claim = await uow.outbox.claim_bulk(T0, timedelta(minutes=1), 100, daily_limit=100,
                                            window=DAILY_WINDOW)
        await uow.commit()
    sent = {m.to: m for m in claim.messages}
    assert set(sent) == {phone(0).e164[1:], phone(1).e164[1:], phone(100).e164[1:]}
    assert sent[phone(0).e164[1:]].template_params == ("Ana", "10a")
    assert sent[phone(0).e164[1:]].body == "Hola Ana: reunión de 10a el viernes."
    rosa = sent[phone(100).e164[1:]]
    assert rosa.template_params == ("Rosa", "10a")
    assert (rosa.student_id, rosa.purpose, rosa.broadcast_id) == (ids["Ana"],
                                                                  Purpose.BROADCAST,
                                                                  broadcast.id)
    async with uow_factory() as uow:
        page = await uow.audit.list(AuditFilter(target_type="broadcast"), PageRequest())
        entries = page.items
    assert [(e.action, e.target_id) for e in entries] == [("broadcast.created",
                                                           str(broadcast.id))]


async def test_an_interrupted_queueing_is_finished_without_duplicates(
        uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    clock = FixedClock(T0)
    svc = service(uow_factory, clock)
    whole, _ = await svc.create(ADMIN, spec(audience=Audience.of([], to="both")))
    assert whole.id is not None
    expected = await outbox_rows(uow_factory, whole.id)
    assert len(expected) == 4  # Ana, Luis, Eva and Rosa
    # The same broadcast, killed (kill -9) after its first batch of two rows.
    async with uow_factory() as uow:
        claim = await uow.outbox.claim_bulk(T0, timedelta(minutes=1), 2, daily_limit=100,
                                            window=DAILY_WINDOW)
        await uow.rollback()
        killed = Broadcast.create("Reunión", "reunion_padres", "es", ("{nombre}", "{curso}"),
                                  Audience.of([], to="both"), created_at=T0,
                                  created_by="cli:rectora")
        killed.start(T0)
        await uow.broadcasts.add(killed)
        assert killed.id is not None
        await uow.outbox.enqueue_many([attrs.evolve(m, broadcast_id=killed.id, id=None)
                                       for m in claim.messages])
        await uow.commit()
    await svc.tick()  # too early: whoever created it may still be queueing
    assert len(await outbox_rows(uow_factory, killed.id)) == 2
    clock.advance(RESUME_AFTER + timedelta(seconds=1))
    await svc.tick()
    after = await outbox_rows(uow_factory, killed.id)
    assert sorted(to for to, _ in after) == sorted(to for to, _ in expected)
    async with uow_factory() as uow:
        stored = await uow.broadcasts.get(killed.id)
        assert stored is not None and stored.queued_at is not None


async def test_counts_roll_up_and_the_broadcast_finishes(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    clock = FixedClock(T0)
    svc = service(uow_factory, clock)
    broadcast, _ = await svc.create(ADMIN, spec(audience=Audience.of([], to="students")))
    assert broadcast.id is not None
    async with uow_factory() as uow:
        claim = await uow.outbox.claim_bulk(T0, timedelta(minutes=1), 2, daily_limit=100,
                                            window=DAILY_WINDOW)
        first, second = claim.messages
        assert first.id is not None and second.id is not None
        await uow.outbox.mark_sent(first.id, "wamid.b1", T0)
        await uow.outbox.mark_sent(second.id, "wamid.b2", T0)
        await uow.outbox.apply_status(StatusReport("meta", "wamid.b1", DeliveryStatus.READ,
                                                   T0), T0)
        await uow.outbox.apply_status(StatusReport(
            "meta", "wamid.b2", DeliveryStatus.FAILED, T0, error_code="131049"), T0)
        await uow.commit()
    view = await svc.get(ADMIN, broadcast.id)
    assert view.counts == {"queued": 1, "sent": 0, "delivered": 0, "read": 1, "failed": 1}
    await svc.tick()
    assert (await svc.get(ADMIN, broadcast.id)).broadcast.state is BroadcastState.SENDING
    async with uow_factory() as uow:
        (last,) = (await uow.outbox.claim_bulk(T0, timedelta(minutes=1), 5, daily_limit=100,
                                               window=DAILY_WINDOW)).messages
        assert last.id is not None
        await uow.outbox.mark_sent(last.id, "wamid.b3", T0)
        await uow.commit()
    await svc.tick()
    view = await svc.get(ADMIN, broadcast.id)
    assert view.broadcast.state is BroadcastState.DONE
    assert view.counts == {"queued": 0, "sent": 1, "delivered": 0, "read": 1, "failed": 1}
    results = await svc.results(ADMIN, broadcast.id)
    assert sorted(r.error_code or "" for r in results) == ["", "", "131049"]


async def test_the_list_gives_each_broadcast_its_own_counts(
        uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    clock = FixedClock(T0)
    svc = service(uow_factory, clock)
    students, _ = await svc.create(ADMIN, spec(audience=Audience.of([], to="students")))
    futbol, _ = await svc.create(ADMIN, spec(audience=Audience.of(["futbol"])))
    later, _ = await svc.create(ADMIN, spec(scheduled_at=T0 + timedelta(days=1)))
    assert students.id is not None and futbol.id is not None
    await svc.cancel(ADMIN, futbol.id)
    views = await svc.recent(ADMIN)
    assert [(v.broadcast.id, v.counts["queued"], v.counts["failed"]) for v in views] == [
        (later.id, 0, 0), (futbol.id, 0, 1), (students.id, 3, 0)]  # Luis; Ana, Luis, Eva
    assert views[-1].counts == (await svc.get(ADMIN, students.id)).counts


async def test_pause_resume_cancel_hold_the_rows_and_are_audited(
        uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    clock = FixedClock(T0)
    svc = service(uow_factory, clock)
    broadcast, _ = await svc.create(ADMIN, spec(audience=Audience.of([], to="students")))
    assert broadcast.id is not None
    await svc.pause(ADMIN, broadcast.id)

    async def claimable() -> int:
        async with uow_factory() as uow:
            got = await uow.outbox.claim_bulk(clock.now(), timedelta(minutes=1), 100,
                                              daily_limit=100, window=DAILY_WINDOW)
            return len(got.messages)  # rolled back: nothing changes

    assert await claimable() == 0
    with pytest.raises(BroadcastStateError):
        await svc.pause(ADMIN, broadcast.id)
    await svc.resume(ADMIN, broadcast.id)
    assert await claimable() == 3  # Ana, Luis, Eva
    await svc.cancel(ADMIN, broadcast.id)
    assert await claimable() == 0
    view = await svc.get(ADMIN, broadcast.id)
    assert view.broadcast.state is BroadcastState.CANCELLED
    assert view.counts["failed"] == 3
    async with uow_factory() as uow:
        page = await uow.audit.list(AuditFilter(target_type="broadcast"), PageRequest())
    assert [e.action for e in reversed(page.items)] == [
        "broadcast.created", "broadcast.paused", "broadcast.resumed", "broadcast.cancelled"]


async def test_a_scheduled_broadcast_starts_when_its_time_comes(
        uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    clock = FixedClock(T0)
    svc = service(uow_factory, clock)
    broadcast, _ = await svc.create(ADMIN, spec(scheduled_at=T0 + timedelta(hours=2)))
    assert broadcast.id is not None and broadcast.state is BroadcastState.SCHEDULED
    await svc.tick()
    assert await outbox_rows(uow_factory, broadcast.id) == []
    clock.advance(timedelta(hours=2))
    await svc.tick()
    assert len(await outbox_rows(uow_factory, broadcast.id)) == 2  # Ana, Luis
    assert (await svc.get(ADMIN, broadcast.id)).broadcast.state is BroadcastState.SENDING


async def test_the_preview_says_how_many_fit_the_daily_limit(
        uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    clock = FixedClock(T0)
    first, _ = await service(uow_factory, clock, daily_limit=3).create(
        ADMIN, spec(audience=Audience.of(["11b"])))  # Eva
    async with uow_factory() as uow:
        await uow.outbox.claim_bulk(T0, timedelta(minutes=1), 10, daily_limit=3,
                                    window=DAILY_WINDOW)
        await uow.commit()
    preview = await service(uow_factory, clock, daily_limit=3).preview(
        ADMIN, spec(audience=Audience.of([], to="both")))
    assert preview.recipients == 4  # Ana, Luis, Eva, Rosa
    assert (preview.fit_today, preview.waiting) == (3, 1)  # Eva is free: already counted


@pytest.mark.parametrize("role", [Role.TEACHER, Role.VIEWER])
async def test_only_coordinators_and_admins_manage_broadcasts(
        uow_factory: UnitOfWorkFactory, role: Role) -> None:
    await seed(uow_factory)
    svc = service(uow_factory, FixedClock(T0))
    who = Caller(Principal(kind=PrincipalKind.STAFF, actor="x@colegio.edu.co", role=role,
                           tags=frozenset({"10a"})))
    with pytest.raises(PermissionDenied):
        await svc.create(who, spec())
    with pytest.raises(PermissionDenied):
        await svc.recent(who)
    coordinator = Caller(Principal(kind=PrincipalKind.STAFF, actor="c@colegio.edu.co",
                                   role=Role.COORDINATOR))
    broadcast, _ = await svc.create(coordinator, spec())
    assert broadcast.created_by == "c@colegio.edu.co"


async def test_a_send_cut_by_a_crash_is_never_repeated(uow_factory: UnitOfWorkFactory) -> None:
    await seed(uow_factory)
    clock = FixedClock(T0)
    svc = service(uow_factory, clock)
    broadcast, _ = await svc.create(ADMIN, spec(audience=Audience.of([], to="students")))
    assert broadcast.id is not None
    async with uow_factory() as uow:  # a worker claims two rows, then is killed (kill -9)
        claim = await uow.outbox.claim_bulk(T0, timedelta(seconds=90), 2, daily_limit=100,
                                            window=DAILY_WINDOW, owner="worker-killed")
        await uow.commit()
    async with uow_factory() as uow:  # the next worker's sweep
        assert await uow.outbox.fail_abandoned(T0, live_owners={"worker-new"}) == 2
        rest = await uow.outbox.claim_bulk(T0, timedelta(seconds=90), 10, daily_limit=100,
                                           window=DAILY_WINDOW, owner="worker-new")
        await uow.commit()
    assert {m.to for m in rest.messages}.isdisjoint({m.to for m in claim.messages})
    assert len(rest.messages) == 1
    view = await svc.get(ADMIN, broadcast.id)
    assert view.counts["failed"] == 2 and view.counts["queued"] == 1
    results = await svc.results(ADMIN, broadcast.id)
    assert sorted(r.error_code or "" for r in results) == ["", "DELIVERY_UNKNOWN",
                                                          "DELIVERY_UNKNOWN"]
