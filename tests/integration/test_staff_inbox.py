"""The staff inbox's service and repositories (issue #15) on memory, SQLite and PostgreSQL:
list ordering (waiting first, oldest first), teachers' scope, unread counts, the thread with
notes and system events, notes never sent, quick replies, assignment rules, the idle release
leaving its event, first-response figures in business minutes, and the audit entries."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest

from eki_adapters.system.clock import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.errors import InvalidInput, StudentNotFound
from eki_domain.model.audit import AuditFilter
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import PermissionDenied, Principal
from eki_domain.model.staff import StaffMember
from eki_domain.model.student import Student
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.services.staff import Caller
from eki_domain.services.staff_inbox import Tab
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings

ANA, CARLA, DIEGO = "573001234567", "573005551234", "573104445566"


def _member(email: str, role: str, tags: tuple[str, ...] = (), id_: int = 1) -> StaffMember:
    return attrs.evolve(StaffMember.create(email, email.split("@")[0].title(), role,
                                           created_at=FixedClock().now(), tags=tags), id=id_)


SECRETARY = Caller(Principal.staff(_member("secre@colegio.edu.co", "coordinator")))
TEACHER = Caller(Principal.staff(_member("profe@colegio.edu.co", "teacher", ("grado 10",), 2)))


async def _eki(uow_factory: UnitOfWorkFactory, **settings: object
               ) -> tuple[Eki, FixedClock, ConsoleChannel]:
    clock = FixedClock()  # 2026-01-15 12:00 UTC: Thursday 07:00 in Bogotá
    channel = ConsoleChannel(name="meta")
    eki = await bootstrap(Settings(database_url="sqlite://", **settings),  # type: ignore[arg-type]
                          uow=uow_factory, clock=clock, channel=channel)  # type: ignore[arg-type]
    return eki, clock, channel


async def _write(eki: Eki, wa_id: str, text: str, n: int) -> None:
    await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
        IncomingMessage(channel="meta", provider_id=f"wamid.{wa_id}.{n}", wa_id=wa_id,
                        type=MessageType.TEXT, sent_at=eki.clock.now(), text=text)])
    while await eki.conversation.process_next():
        pass


async def _school(eki: Eki, clock: FixedClock) -> dict[str, Student]:
    students = {
        "ana": await eki.registration.register("Ana María Pérez", ANA, tags=["grado 10"]),
        "carla": await eki.registration.register("Carla Gómez", CARLA, tags=["grado 10"]),
        "diego": await eki.registration.register("Diego Ruiz", DIEGO, tags=["grado 11"]),
    }
    await _write(eki, DIEGO, "quiero hablar con una persona", 1)  # waits longest
    clock.advance(timedelta(minutes=5))
    await _write(eki, CARLA, "quiero hablar con un asesor", 1)
    clock.advance(timedelta(minutes=5))
    await _write(eki, ANA, "hola", 1)
    clock.advance(timedelta(minutes=5))
    return students


async def _actions(eki: Eki) -> list[tuple[str, str, str | None]]:
    async with eki.uow() as uow:
        page = await uow.audit.list(AuditFilter(), PageRequest(limit=200))  # type: ignore[attr-defined]
    return [(e.actor, e.action, e.target_id) for e in page.items]


async def test_waiting_first_oldest_first_then_the_tabs(uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, _ = await _eki(uow_factory)
    try:
        s = await _school(eki, clock)
        listing = await eki.inbox.overview(SECRETARY.principal)
        assert [r.student.name for r in listing.waiting] == ["Diego Ruiz", "Carla Gómez"]
        assert listing.waiting[0].waiting_since == clock.now() - timedelta(minutes=15)
        assert [r.student.name for r in listing.rows] == [
            "Ana María Pérez", "Carla Gómez", "Diego Ruiz"]  # newest activity first
        ana = listing.rows[0]
        assert ana.activity.unread == 1 and ana.activity.last_direction == "out"
        assert ana.window_left == timedelta(hours=23, minutes=55)

        await eki.staff_messages.take(SECRETARY, s["carla"])
        await eki.staff_messages.send(SECRETARY, s["carla"], text="Hola Carla")
        listing = await eki.inbox.overview(SECRETARY.principal, Tab.MINE)
        assert [r.student.name for r in listing.rows] == ["Carla Gómez"]
        assert [r.student.name for r in listing.waiting] == ["Diego Ruiz"]  # Carla answered
        unassigned = await eki.inbox.overview(SECRETARY.principal, Tab.UNASSIGNED)
        assert [r.student.name for r in unassigned.rows] == ["Diego Ruiz"]
        assert unassigned.counts == {"waiting": 1, "mias": 1, "sin-asignar": 1, "todas": 3}

        clock.advance(timedelta(minutes=1))
        await _write(eki, CARLA, "gracias, otra pregunta", 2)
        listing = await eki.inbox.overview(SECRETARY.principal)
        assert [r.student.name for r in listing.waiting] == ["Diego Ruiz", "Carla Gómez"]
        assert listing.waiting[1].waiting_since == clock.now()

        # Opening the thread reads its messages (per person).
        await eki.inbox.thread(SECRETARY.principal, s["ana"])
        rows = {r.student.name: r for r in (await eki.inbox.overview(SECRETARY.principal)).rows}
        assert rows["Ana María Pérez"].activity.unread == 0
        rows = {r.student.name: r for r in (await eki.inbox.overview(TEACHER.principal)).rows}
        assert rows["Ana María Pérez"].activity.unread == 1
    finally:
        await eki.aclose()


async def test_a_teacher_sees_and_acts_only_on_her_students(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, _ = await _eki(uow_factory)
    try:
        s = await _school(eki, clock)
        listing = await eki.inbox.overview(TEACHER.principal)
        assert {r.student.name for r in listing.rows} == {"Ana María Pérez", "Carla Gómez"}
        assert [r.student.name for r in listing.waiting] == ["Carla Gómez"]
        with pytest.raises(StudentNotFound):
            await eki.inbox.thread(TEACHER.principal, s["diego"])
        with pytest.raises(StudentNotFound):
            await eki.inbox.add_note(TEACHER, s["diego"], "no debería")
        viewer = Principal.staff(_member("mira@colegio.edu.co", "viewer", id_=3))
        with pytest.raises(PermissionDenied):
            await eki.inbox.overview(viewer)
    finally:
        await eki.aclose()


async def test_notes_are_stored_never_sent_and_the_thread_tells_everything(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, channel = await _eki(uow_factory)
    try:
        s = await _school(eki, clock)
        await eki.delivery.dispatch_due()
        sent_before = len(channel.sent)
        await eki.staff_messages.take(SECRETARY, s["carla"])
        await eki.inbox.add_note(SECRETARY, s["carla"], "La mamá llamó: urgente")
        await eki.staff_messages.send(SECRETARY, s["carla"], text="Hola Carla")
        await eki.delivery.dispatch_due()
        assert [body for _, body, _ in channel.sent[sent_before:]] == ["Hola Carla"]
        with pytest.raises(InvalidInput):
            await eki.inbox.add_note(SECRETARY, s["carla"], "   ")
        await eki.conversation.release_handoff(s["carla"].id or 0, by="secre@colegio.edu.co")

        thread = await eki.inbox.thread(SECRETARY.principal, s["carla"])
        kinds = [(i.kind, i.event) for i in thread]
        assert kinds[0] == ("in", None)
        assert ("event", "handoff.opened") in kinds and ("event", "handoff.taken") in kinds
        assert ("note", None) in kinds and ("event", "handoff.released") in kinds
        staff = [i for i in thread if i.kind == "out" and i.author]
        assert [(i.text, i.author, i.state) for i in staff] == [
            ("Hola Carla", "secre@colegio.edu.co", "sent")]
        note = next(i for i in thread if i.kind == "note")
        assert note.text == "La mamá llamó: urgente" and note.author == "secre@colegio.edu.co"
        async with eki.uow() as uow:
            history = await uow.history.page(s["carla"].id or 0, PageRequest(limit=50))
        assert all("urgente" not in (e.text or "") for e in history.items)
        actions = [(a, act) for a, act, _ in await _actions(eki)]
        assert ("secre@colegio.edu.co", "inbox.noted") in actions
        assert ("secre@colegio.edu.co", "handoff.taken") in actions
        assert ("secre@colegio.edu.co", "inbox.replied") in actions
    finally:
        await eki.aclose()


async def test_assignment_only_to_staff_who_may_manage_the_student(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, _ = await _eki(uow_factory)
    try:
        s = await _school(eki, clock)
        cli = Caller(Principal.cli("rectoria"))
        await eki.staff.add(cli, "profe@colegio.edu.co", "Paula Profe", "teacher",
                            tags=["grado 10"])
        await eki.staff.add(cli, "mira@colegio.edu.co", "Victor Mira", "viewer")
        names = {m.email for m in await eki.inbox.assignable(SECRETARY.principal, s["ana"])}
        assert names == {"profe@colegio.edu.co"}
        assert await eki.inbox.assignable(SECRETARY.principal, s["diego"]) == []
        with pytest.raises(InvalidInput):
            await eki.inbox.assign(SECRETARY, s["diego"], "profe@colegio.edu.co")
        with pytest.raises(InvalidInput):
            await eki.inbox.assign(SECRETARY, s["ana"], "mira@colegio.edu.co")
        member = await eki.inbox.assign(SECRETARY, s["ana"], "PROFE@colegio.edu.co")
        assert member.email == "profe@colegio.edu.co"
        async with eki.uow() as uow:
            assert await uow.assignments.assignee(s["ana"].id or 0) == "profe@colegio.edu.co"
            assert await uow.handoffs.has_open_handoff(s["ana"].id or 0)  # opened for her
        mine = await eki.inbox.overview(TEACHER.principal, Tab.MINE)
        assert [r.student.name for r in mine.rows] == ["Ana María Pérez"]
        thread = await eki.inbox.thread(SECRETARY.principal, s["ana"])
        assert any(i.event == "handoff.assigned" and "Paula Profe" in (i.text or "")
                   for i in thread)
        assert ("secre@colegio.edu.co", "handoff.assigned", str(s["ana"].id)) in \
            await _actions(eki)
    finally:
        await eki.aclose()


async def test_the_idle_release_leaves_its_event_in_the_thread(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, _ = await _eki(uow_factory, handoff_idle_hours=2)
    try:
        s = await _school(eki, clock)
        clock.advance(timedelta(hours=3))
        released = await eki.staff_messages.release_idle()
        assert set(released) == {s["carla"].id, s["diego"].id}
        thread = await eki.inbox.thread(SECRETARY.principal, s["carla"])
        idle = [i for i in thread if i.kind == "event" and i.event == "handoff.idle_released"]
        assert [i.text for i in idle] == ["Devuelta al bot por inactividad."]
        assert not any(i.event == "handoff.released" for i in thread)  # not twice
    finally:
        await eki.aclose()


async def test_quick_replies_expand_and_are_managed(uow_factory: UnitOfWorkFactory) -> None:
    eki, _, _ = await _eki(uow_factory)
    try:
        assert await eki.inbox.save_quick_reply(SECRETARY, "/Horario", "De 7 a 5.")
        assert not await eki.inbox.save_quick_reply(SECRETARY, "horario", "De 7:00 a 17:00.")
        await eki.inbox.save_quick_reply(SECRETARY, "gracias", "¡Con gusto!")
        assert [r.shortcut for r in await eki.inbox.quick_replies()] == ["gracias", "horario"]
        assert await eki.inbox.expand("Hola. /horario /gracias /nada a/horario") == \
            "Hola. De 7:00 a 17:00. ¡Con gusto! /nada a/horario"
        with pytest.raises(InvalidInput):
            await eki.inbox.save_quick_reply(SECRETARY, "con espacio", "x")
        with pytest.raises(PermissionDenied):
            await eki.inbox.save_quick_reply(TEACHER, "mia", "x")
        assert await eki.inbox.delete_quick_reply(SECRETARY, "gracias")
        assert not await eki.inbox.delete_quick_reply(SECRETARY, "gracias")
        assert await eki.inbox.expand("/gracias") == "/gracias"
    finally:
        await eki.aclose()


async def test_first_response_in_business_minutes_and_the_sla(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, _ = await _eki(uow_factory, handoff_idle_hours=720, handoff_sla_minutes=120)
    try:
        s = await _school(eki, clock)  # Diego asked at 07:00, Carla at 07:05 (Thursday)
        clock.advance(timedelta(minutes=15))  # 07:30
        await eki.staff_messages.send(SECRETARY, s["carla"], text="Hola Carla")
        figures = await eki.inbox.response_figures(SECRETARY.principal)
        assert (figures.answered, figures.p50, figures.over_sla) == (1, 25.0, 0)
        clock.advance(timedelta(hours=10))  # 17:30: Diego waited 600 business minutes
        figures = await eki.inbox.response_figures(SECRETARY.principal)
        assert figures.over_sla == 1
        clock.advance(timedelta(hours=14))  # Friday 07:30: 30 more business minutes
        await _write(eki, DIEGO, "¿hola?", 2)
        await eki.staff_messages.send(SECRETARY, s["diego"], text="Perdón la demora")
        figures = await eki.inbox.response_figures(SECRETARY.principal)
        assert (figures.answered, figures.p50, figures.p90, figures.over_sla) == (
            2, 25.0, 630.0, 0)
        teacher = await eki.inbox.response_figures(TEACHER.principal)
        assert teacher.answered == 1  # Diego is grado 11
    finally:
        await eki.aclose()


async def test_a_message_shows_as_soon_as_it_is_stored_before_the_bot_answers(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, _ = await _eki(uow_factory)
    try:
        s = await _school(eki, clock)
        await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
            IncomingMessage(channel="meta", provider_id="wamid.slow", wa_id=ANA,
                            type=MessageType.TEXT, sent_at=clock.now(), text="¿y mi nota?")])
        rows = {r.student.name: r for r in (await eki.inbox.overview(SECRETARY.principal)).rows}
        ana = rows["Ana María Pérez"]
        assert (ana.activity.last_text, ana.activity.last_direction) == ("¿y mi nota?", "in")
        assert ana.activity.unread == 2 and ana.window_left == timedelta(hours=24)
        thread = await eki.inbox.thread(SECRETARY.principal, s["ana"])
        assert (thread[-1].kind, thread[-1].text, thread[-1].state) == (
            "in", "¿y mi nota?", "pending")
        await eki.conversation.process_next()  # once answered it is counted once
        rows = {r.student.name: r for r in (await eki.inbox.overview(TEACHER.principal)).rows}
        assert rows["Ana María Pérez"].activity.unread == 2
        thread = await eki.inbox.thread(SECRETARY.principal, s["ana"])
        assert [i.text for i in thread].count("¿y mi nota?") == 1
    finally:
        await eki.aclose()


async def test_an_opt_out_is_an_event_of_the_thread_at_its_time(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, _ = await _eki(uow_factory)
    try:
        s = await _school(eki, clock)
        asked = clock.now()
        await _write(eki, ANA, "BAJA", 2)
        clock.advance(timedelta(hours=1))
        thread = await eki.inbox.thread(SECRETARY.principal, s["ana"])
        [event] = [i for i in thread if i.event == "opt_out"]
        assert event.at == asked and "BAJA" in (event.text or "")
    finally:
        await eki.aclose()
