"""Staff messages (issue #15): the 24-hour window at its edges, templates, the take-over
(the bot stays silent while a person owns the conversation), the dispatcher's re-check and
idle hand-offs going back to the bot — on memory, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eki_adapters.system.clock import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.errors import InvalidInput
from eki_domain.model.audit import AuditFilter
from eki_domain.model.messages import DeliveryStatus, IncomingMessage, MessageType
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import Principal
from eki_domain.model.templates import (
    TemplateNotApproved,
    TemplateNotFound,
    TemplateStatus,
    WindowClosed,
)
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.services.staff import Caller
from eki_domain.services.staff_messages import (
    IDLE_RELEASER,
    RecipientOptedOut,
    TemplateChoice,
)
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings

WA_ID = "573001234567"
CLI = Caller(Principal.cli("secretaria"))


async def _eki(uow_factory: UnitOfWorkFactory) -> tuple[Eki, FixedClock, ConsoleChannel]:
    clock = FixedClock()
    channel = ConsoleChannel(name="meta")
    eki = await bootstrap(Settings(database_url="sqlite://"), uow=uow_factory,  # type: ignore[arg-type]
                          clock=clock, channel=channel)
    return eki, clock, channel


async def _inbound(eki: Eki, text: str, n: int, ago: timedelta = timedelta(0)) -> None:
    """The student writes; the bot's turn runs."""
    await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
        IncomingMessage(channel="meta", provider_id=f"wamid.IN{n}", wa_id=WA_ID,
                        type=MessageType.TEXT, sent_at=eki.clock.now() - ago, text=text)])
    await eki.conversation.process_next()


async def test_free_text_inside_the_window_then_refused_after_24_hours(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, channel = await _eki(uow_factory)
    try:
        student = await eki.registration.register("Ana María Pérez", WA_ID)
        await _inbound(eki, "hola", 1)
        await eki.delivery.dispatch_due()  # the bot's greeting
        bot_replies = len(channel.sent)

        clock.advance(timedelta(hours=23, minutes=59))  # still inside
        queued = await eki.staff_messages.send(CLI, student, text="Hola Ana, soy la profe.")
        assert queued.state == "queued" and queued.took_over
        assert queued.window_left == timedelta(minutes=1)
        [outcome] = await eki.delivery.dispatch_due()
        assert outcome.status == "sent"
        assert [body for _, body, _ in channel.sent[bot_replies:]] == ["Hola Ana, soy la profe."]

        clock.advance(timedelta(minutes=2))  # 24 h 01 m after the student wrote
        with pytest.raises(WindowClosed) as refused:
            await eki.staff_messages.send(CLI, student, text="¿Sigues ahí?")
        assert refused.value.code == "WINDOW_CLOSED"
        async with eki.uow() as uow:
            history = await uow.history.recent(student.id or 0, 10)
        assert "¿Sigues ahí?" not in [e.text for e in history]
    finally:
        await eki.aclose()


async def test_the_window_counts_from_the_inbound_timestamp_not_its_arrival(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, _ = await _eki(uow_factory)
    try:
        student = await eki.registration.register("Ana María Pérez", WA_ID)
        # Delivered late: written 23 h 59 m before it reached EKI.
        await _inbound(eki, "hola", 1, ago=timedelta(hours=23, minutes=59))
        await eki.staff_messages.send(CLI, student, text="Alcanzo a responder.")
        clock.advance(timedelta(minutes=2))
        with pytest.raises(WindowClosed):
            await eki.staff_messages.send(CLI, student, text="Ya no.")
    finally:
        await eki.aclose()


async def test_queued_inside_the_window_dispatched_outside_fails_unsent(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, channel = await _eki(uow_factory)
    try:
        student = await eki.registration.register("Ana María Pérez", WA_ID)
        await _inbound(eki, "hola", 1)
        await eki.delivery.dispatch_due()
        sent_before = len(channel.sent)
        clock.advance(timedelta(hours=23, minutes=59))
        queued = await eki.staff_messages.send(CLI, student, text="Te escribo enseguida.")
        clock.advance(timedelta(minutes=2))  # the worker was down for two minutes
        [outcome] = await eki.delivery.dispatch_due()
        assert (outcome.status, outcome.error_code) == ("failed", "WINDOW_CLOSED")
        assert len(channel.sent) == sent_before  # never handed to WhatsApp
        async with eki.uow() as uow:
            row = await uow.outbox.get(queued.id)
        assert row is not None and row.status is DeliveryStatus.FAILED
        assert row.error_title == "ventana de 24 horas cerrada"
    finally:
        await eki.aclose()


async def test_a_template_goes_out_after_the_window_and_only_when_approved(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, channel = await _eki(uow_factory)
    try:
        student = await eki.registration.register("Ana María Pérez", WA_ID)
        await eki.templates.add(CLI, "recordatorio", "es", "utility",
                                "Hola {{1}}, tu nota de {{2}} ya está publicada.")
        await eki.templates.add(CLI, "promo", "es", "marketing", "Nueva {{1}}",
                                status=TemplateStatus.PENDING)
        with pytest.raises(TemplateNotFound):
            await eki.staff_messages.send(CLI, student, template=TemplateChoice("nada"))
        with pytest.raises(TemplateNotFound):
            await eki.staff_messages.send(CLI, student, template=TemplateChoice(
                "recordatorio", "en"))
        with pytest.raises(TemplateNotApproved):
            await eki.staff_messages.send(CLI, student, template=TemplateChoice(
                "promo", "es", ("feria",)))
        with pytest.raises(InvalidInput, match="2 parámetro"):
            await eki.staff_messages.send(CLI, student, template=TemplateChoice(
                "recordatorio", "es", ("Ana",)))

        queued = await eki.staff_messages.send(CLI, student, template=TemplateChoice(
            "recordatorio", "es", ("Ana", "matemáticas")))  # she never wrote: template only
        assert queued.template == "recordatorio" and queued.window_left == timedelta(0)
        clock.advance(timedelta(days=3))  # templates are not bound to the window
        [outcome] = await eki.delivery.dispatch_due()
        assert outcome.status == "sent"
        assert channel.templates == [(WA_ID, "recordatorio", "es", ("Ana", "matemáticas"))]
        assert channel.sent == []
        async with eki.uow() as uow:
            [entry] = await uow.history.recent(student.id or 0, 5)
        assert entry.text == "Hola Ana, tu nota de matemáticas ya está publicada."
    finally:
        await eki.aclose()


async def test_replying_takes_over_and_the_bot_stays_silent(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, channel = await _eki(uow_factory)
    try:
        student = await eki.registration.register("Ana María Pérez", WA_ID)
        await _inbound(eki, "hola", 1)
        await eki.delivery.dispatch_due()
        teacher = Caller(Principal.cli("profe"))
        queued = await eki.staff_messages.send(teacher, student, text="Hola, te ayudo yo.")
        assert queued.took_over
        async with eki.uow() as uow:
            assert await uow.handoffs.has_open_handoff(student.id or 0)
            assert await uow.assignments.assignee(student.id or 0) == "cli:profe"
        await eki.delivery.dispatch_due()
        before = len(channel.sent)

        clock.advance(timedelta(minutes=5))
        await _inbound(eki, "¿cuántas fallas llevo?", 2)
        assert await eki.delivery.dispatch_due() == []  # the bot said nothing
        assert len(channel.sent) == before

        # A second reply does not open another hand-off, and keeps the owner.
        again = await eki.staff_messages.send(Caller(Principal.cli("otra")), student,
                                              text="Llevas 2 fallas.")
        assert not again.took_over
        async with eki.uow() as uow:
            assert await uow.assignments.assignee(student.id or 0) == "cli:profe"
        page = await eki.audit.list(CLI, _all(), _page())
        assert [e.action for e in page.items].count("inbox.replied") == 2
    finally:
        await eki.aclose()


async def test_an_idle_hand_off_goes_back_to_the_bot(uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, channel = await _eki(uow_factory)
    try:
        student = await eki.registration.register("Ana María Pérez", WA_ID)
        await _inbound(eki, "hola", 1)
        await eki.staff_messages.send(CLI, student, text="Hola, te atiendo.")
        clock.advance(timedelta(hours=23))
        assert await eki.staff_messages.release_idle() == []
        clock.advance(timedelta(hours=1, seconds=1))  # 24 h without staff activity
        assert await eki.staff_messages.release_idle() == [student.id]
        async with eki.uow() as uow:
            assert not await uow.handoffs.has_open_handoff(student.id or 0)
        page = await eki.audit.list(CLI, _all(), _page())
        released = [e for e in page.items if e.action == "handoff.released"]
        assert released and released[0].actor == "eki"
        assert IDLE_RELEASER.startswith("eki:")
    finally:
        await eki.aclose()


async def test_nobody_writes_to_a_student_who_opted_out(uow_factory: UnitOfWorkFactory) -> None:
    eki, _, _ = await _eki(uow_factory)
    try:
        student = await eki.registration.register("Ana María Pérez", WA_ID)
        await _inbound(eki, "BAJA", 1)
        with pytest.raises(RecipientOptedOut):
            await eki.staff_messages.send(CLI, student, text="Hola")
    finally:
        await eki.aclose()


def _all() -> AuditFilter:
    return AuditFilter()


def _page() -> PageRequest:
    return PageRequest(limit=50, offset=0)


async def test_a_hand_off_outside_business_hours_is_told_when_someone_answers(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock, channel = await _eki(uow_factory)  # lun-vie 07:00-17:00, America/Bogota
    try:
        await eki.registration.register("Ana María Pérez", WA_ID)
        clock.set(datetime(2026, 1, 17, 15, 0, tzinfo=UTC))  # Saturday 10:00 in Bogotá
        await _inbound(eki, "quiero hablar con un asesor", 1)
        await eki.delivery.dispatch_due()
        [(_, reply, _)] = channel.sent
        assert "fuera del horario" in reply
        assert reply.endswith("el lunes 19 de enero a las 07:00.")

        clock.set(datetime(2026, 1, 19, 13, 0, tzinfo=UTC))  # Monday 08:00: open
        await eki.conversation.release_handoff(1, by="test")
        await _inbound(eki, "quiero hablar con un asesor", 2)
        await eki.delivery.dispatch_due()
        assert "fuera del horario" not in channel.sent[-1][1]
    finally:
        await eki.aclose()
