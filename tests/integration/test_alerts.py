"""Academic alerts (issue 16) on memory, SQLite and PostgreSQL: each rule, exactly once per
(student, rule, item, recipient) across repeated evaluations, concurrent ones and a crash
between queueing and recording, quiet hours across midnight, the daily cap, opt-outs
(BAJA, per rule, consent), guardians versus the student, and who may switch rules."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eki_adapters.system.clock import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_domain.errors import InvalidInput
from eki_domain.model.alerts import AlertRule, HoldReason, RecipientKind
from eki_domain.model.audit import AuditFilter
from eki_domain.model.gradebook import ProgressKind
from eki_domain.model.imports import sheet_from_records
from eki_domain.model.messages import IncomingMessage, MessageType, Purpose
from eki_domain.model.pacing import DAILY_WINDOW
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import PermissionDenied, Principal
from eki_domain.model.staff import Role, StaffMember
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.services.alerts import AlertRun, AlertService
from eki_domain.services.families import FamilyService
from eki_domain.services.staff import Caller
from eki_entrypoints.alerting import alert_policy
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings

CLI = Caller(Principal.cli("coordinacion"))
#: Monday 7 December 2026, 10:00 in Bogotá (UTC-5).
MONDAY_10 = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
ANA, MOM, DAD, LUIS = "+573001234567", "+573109876543", "+573205551234", "+573007654321"


async def _eki(uow_factory: UnitOfWorkFactory, start: datetime = MONDAY_10,
               **settings: Any) -> tuple[Eki, FixedClock]:
    clock = FixedClock(start)
    eki = await bootstrap(Settings(database_url="sqlite://", **settings),  # type: ignore[arg-type]
                          uow=uow_factory, clock=clock,  # type: ignore[arg-type]
                          channel=ConsoleChannel(name="meta"))
    await eki.templates.add(CLI, "alerta_falla", "es", "utility",
                            "Hoy {{1}} no asistió a {{2}}.")
    await eki.templates.add(CLI, "alerta_entrega", "es", "utility",
                            "{{1}} debe entregar «{{2}}» de {{3}} {{4}}.")
    await eki.templates.add(CLI, "alerta_nota_baja", "es", "utility",
                            "{{1}} sacó {{4}} en {{3}} ({{2}}).")
    return eki, clock


async def _family(eki: Eki) -> None:
    """Ana with her mother (alerts allowed) and father (not allowed); Luis alone."""
    await eki.registration.register("Ana María Pérez", ANA)
    await eki.registration.register("Luis Gómez", LUIS)
    families = FamilyService(eki.uow, eki.clock)  # type: ignore[arg-type]
    await families.add(CLI, "Marta Pérez", MOM, student_phone=ANA, relationship="madre")
    await families.add(CLI, "Jorge Pérez", DAD, student_phone=ANA, relationship="padre",
                       may_receive_alerts=False)


async def _attendance(eki: Eki, rows: Sequence[tuple[str, str, str, str]]) -> None:
    sheet = sheet_from_records([{"telefono": p, "curso": c, "fecha": d, "estado": s}
                                for p, c, d, s in rows], "asistencia.csv")
    result = await eki.progress_import.import_sheet(sheet, kind=ProgressKind.ATTENDANCE)
    assert result.report.errors == 0, result.report


async def _grades(eki: Eki, rows: Sequence[dict[str, object]]) -> None:
    sheet = sheet_from_records(list(rows), "notas.csv")
    result = await eki.progress_import.import_sheet(sheet, kind=ProgressKind.GRADES)
    assert result.report.errors == 0, result.report


async def _bodies(eki: Eki, run: AlertRun) -> list[tuple[str, str]]:
    out = []
    async with eki.uow() as uow:
        for outbound_id in run.outbound_ids:
            message = await uow.outbox.get(outbound_id)
            assert message is not None and message.intent == "alert"
            assert message.purpose is Purpose.ALERT and message.template is not None
            out.append((message.to, message.body))
    return sorted(out)


def _held(run: AlertRun) -> list[tuple[str, HoldReason | None]]:
    return sorted((p.recipient, p.held) for p in run.held)


async def test_falla_goes_to_allowed_guardians_once(uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory)
    try:
        await _family(eki)
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        clock.advance(timedelta(minutes=1))
        await _attendance(eki, [(ANA, "Matemáticas", "2026-12-07", "ausente"),
                                (ANA, "Inglés", "2026-12-07", "presente"),
                                (LUIS, "Inglés", "2026-12-07", "excusa")])
        dry = await eki.alerts.run(dry_run=True)
        assert [(p.recipient, p.kind) for p in dry.send] == [(MOM, RecipientKind.GUARDIAN)]
        assert dry.outbound_ids == ()
        run = await eki.alerts.run()
        assert await _bodies(eki, run) == [(MOM.lstrip("+"), "Hoy Ana no asistió a Matemáticas.")]
        assert _held(run) == [(DAD, HoldReason.NOT_ALLOWED)]
        # Evaluated again (the worker's 15 minutes, a second import of the same sheet):
        # nothing new goes out.
        clock.advance(timedelta(minutes=15))
        await _attendance(eki, [(ANA, "Matemáticas", "2026-12-07", "ausente")])
        again = await eki.alerts.run()
        assert again.send == () and again.outbound_ids == ()
        sent = await eki.alerts.sent()
        assert [(a.rule, a.recipient, a.item.startswith("curso:")) for a in sent] == [
            (AlertRule.FALLA, MOM, True)]
        assert sent[0].outbound_id == run.outbound_ids[0]
    finally:
        await eki.aclose()


async def test_student_without_guardian_gets_it_and_old_absences_are_not_news(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory)
    try:
        await _family(eki)
        # Imported before the rule was switched on: not news.
        await _attendance(eki, [(LUIS, "Inglés", "2026-12-07", "ausente")])
        clock.advance(timedelta(minutes=1))
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        assert (await eki.alerts.run()).send == ()
        clock.advance(timedelta(minutes=1))
        await _attendance(eki, [(LUIS, "Química", "2026-12-07", "ausente"),
                                (LUIS, "Física", "2026-12-01", "ausente")])  # last week
        run = await eki.alerts.run()
        assert await _bodies(eki, run) == [(LUIS.lstrip("+"), "Hoy Luis no asistió a Química.")]
        assert run.send[0].kind is RecipientKind.STUDENT
    finally:
        await eki.aclose()


async def test_nota_baja_only_for_new_grades_below_passing(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory)
    try:
        await _family(eki)
        await _grades(eki, [{"telefono": LUIS, "curso": "Química", "actividad": "Quiz 0",
                             "nota": "1,0"}])  # before the rule: not news
        clock.advance(timedelta(minutes=1))
        await eki.alerts.switch(CLI, AlertRule.NOTA_BAJA, enabled=True)
        clock.advance(timedelta(minutes=1))
        await _grades(eki, [
            {"telefono": LUIS, "curso": "Química", "actividad": "Quiz 1", "nota": "2,5"},
            {"telefono": LUIS, "curso": "Química", "actividad": "Quiz 2", "nota": "3,0"},
            {"telefono": LUIS, "curso": "Química", "actividad": "Quiz 3", "nota": "2,96"},
            {"telefono": LUIS, "curso": "Física", "actividad": "Lab", "nota": "25",
             "nota_maxima": "50"}])
        run = await eki.alerts.run()
        assert await _bodies(eki, run) == [
            (LUIS.lstrip("+"), "Luis sacó 2,5 en Lab (Física)."),
            (LUIS.lstrip("+"), "Luis sacó 2,5 en Quiz 1 (Química)."),
        ]
        assert (await eki.alerts.run()).send == ()
    finally:
        await eki.aclose()


async def test_entrega_proxima_for_pending_work_due_within_the_hours(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory)
    try:
        await _family(eki)
        await _grades(eki, [
            {"telefono": LUIS, "curso": "Química", "actividad": "Informe de laboratorio",
             "nota": "pendiente", "fecha_entrega": "2026-12-08"},
            {"telefono": LUIS, "curso": "Química", "actividad": "Ensayo",
             "nota": "pendiente", "fecha_entrega": "2026-12-11"},  # 4 days away
            {"telefono": LUIS, "curso": "Física", "actividad": "Taller",
             "nota": "4,0", "fecha_entrega": "2026-12-08"}])  # already graded
        await eki.alerts.switch(CLI, AlertRule.ENTREGA, enabled=True)
        run = await eki.alerts.run()
        assert await _bodies(eki, run) == [
            (LUIS.lstrip("+"), "Luis debe entregar «Informe de laboratorio» de Química mañana.")]
        clock.advance(timedelta(days=3))  # Thursday 10:00: the essay is due tomorrow
        later = await eki.alerts.run()
        assert [p.item.values["actividad"] for p in later.send] == ["Ensayo"]
    finally:
        await eki.aclose()


async def test_quiet_hours_across_midnight_wait_for_the_morning(
        uow_factory: UnitOfWorkFactory) -> None:
    # Monday 21:00 in Bogotá.
    eki, clock = await _eki(uow_factory, start=datetime(2026, 12, 8, 2, 0, tzinfo=UTC))
    try:
        await _family(eki)
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        clock.advance(timedelta(minutes=1))
        await _attendance(eki, [(LUIS, "Química", "2026-12-07", "ausente")])
        night = await eki.alerts.run()
        assert night.quiet and night.send == ()
        assert _held(night) == [(LUIS, HoldReason.QUIET_HOURS)]
        clock.set(datetime(2026, 12, 8, 5, 30, tzinfo=UTC))  # 00:30, after midnight
        assert (await eki.alerts.run()).send == ()
        clock.set(datetime(2026, 12, 8, 11, 59, tzinfo=UTC))  # 06:59
        assert (await eki.alerts.run()).send == ()
        clock.set(datetime(2026, 12, 8, 12, 0, tzinfo=UTC))  # 07:00: morning
        morning = await eki.alerts.run()
        # The absence was yesterday's by now: the template says so.
        assert [p.item.values["fecha"] for p in morning.send] == ["ayer"]
        assert len(morning.outbound_ids) == 1
    finally:
        await eki.aclose()


async def test_empty_quiet_hours_send_at_night(uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory, start=datetime(2026, 12, 8, 3, 0, tzinfo=UTC),
                            quiet_hours="")
    try:
        await _family(eki)
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        clock.advance(timedelta(minutes=1))
        await _attendance(eki, [(LUIS, "Química", "2026-12-07", "ausente")])
        assert len((await eki.alerts.run()).outbound_ids) == 1
    finally:
        await eki.aclose()


async def test_daily_cap_per_recipient_and_local_day(uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory, alerts_per_day=2)
    try:
        await _family(eki)
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        clock.advance(timedelta(minutes=1))
        await _attendance(eki, [(LUIS, course, "2026-12-07", "ausente")
                                for course in ("Química", "Física", "Inglés")])
        run = await eki.alerts.run()
        assert len(run.outbound_ids) == 2
        assert _held(run) == [(LUIS, HoldReason.DAILY_CAP)]
        clock.advance(timedelta(hours=4))  # 14:00, same day: still capped
        assert (await eki.alerts.run()).send == ()
        clock.set(datetime(2026, 12, 8, 12, 30, tzinfo=UTC))  # Tuesday 07:30
        tuesday = await eki.alerts.run()
        assert len(tuesday.outbound_ids) == 1
        assert tuesday.send[0].item.values["fecha"] == "ayer"
    finally:
        await eki.aclose()


async def _say(eki: Eki, phone: str, text: str, n: int) -> str:
    await eki.ingest.ingest(channel="meta", body="{}", statuses=(), messages=[
        IncomingMessage(channel="meta", provider_id=f"wamid.A{n}", wa_id=phone.lstrip("+"),
                        type=MessageType.TEXT, sent_at=eki.clock.now(), text=text)])
    result = await eki.conversation.process_next()
    assert result is not None
    return "\n".join(result.replies)


async def test_rule_opt_out_and_back_by_message(uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory)
    try:
        await _family(eki)
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        await eki.alerts.switch(CLI, AlertRule.NOTA_BAJA, enabled=True)
        reply = await _say(eki, MOM, "No más alertas de fallas", 1)
        assert "No te enviaremos más alertas de fallas" in reply
        assert "activar alertas de fallas" in reply
        clock.advance(timedelta(minutes=1))
        await _attendance(eki, [(ANA, "Matemáticas", "2026-12-07", "ausente")])
        await _grades(eki, [{"telefono": ANA, "curso": "Química", "actividad": "Quiz",
                             "nota": "2"}])
        run = await eki.alerts.run(dry_run=True)
        assert [(p.item.rule, p.recipient) for p in run.send] == [(AlertRule.NOTA_BAJA, MOM)]
        assert (AlertRule.FALLA, MOM, HoldReason.RULE_OPTED_OUT) in {
            (p.item.rule, p.recipient, p.held) for p in run.held}
        reply = await _say(eki, MOM, "activar alertas de fallas", 2)
        assert "Volverás a recibir las alertas de fallas" in reply
        assert {p.item.rule for p in (await eki.alerts.run(dry_run=True)).send} == {
            AlertRule.FALLA, AlertRule.NOTA_BAJA}
        reply = await _say(eki, MOM, "no más alertas", 3)
        assert "No te enviaremos más alertas académicas" in reply
        assert (await eki.alerts.run(dry_run=True)).send == ()
        assert await eki.alerts.preferences(MOM) == frozenset(AlertRule)
        await _say(eki, MOM, "Activar alertas", 4)
        await _say(eki, MOM, "BAJA", 5)  # no message at all
        run = await eki.alerts.run(dry_run=True)
        assert run.send == () and {p.held for p in run.held if p.recipient == MOM} == {
            HoldReason.OPTED_OUT}
    finally:
        await eki.aclose()


class _NoConsent:
    """A consent register that reads through a unit of work of its own (as a real one
    would): asked outside the evaluation's, so the in-memory store's lock is free."""

    def __init__(self, phones: set[str], uow: Any) -> None:
        self.phones = phones
        self.uow = uow

    async def lacking_consent(self, phones: Sequence[str]) -> set[str]:
        async with asyncio.timeout(5), self.uow() as uow:
            await uow.opt_outs.opted_out_among(list(phones))
        return self.phones & set(phones)


async def test_inactive_and_no_consent_are_held(uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory)
    try:
        await _family(eki)
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        clock.advance(timedelta(minutes=1))
        await _attendance(eki, [(ANA, "Matemáticas", "2026-12-07", "ausente"),
                                (LUIS, "Química", "2026-12-07", "ausente")])
        async with eki.uow() as uow:
            luis = await uow.students.find_by_phones([LUIS])
            assert luis is not None
            luis.deactivate()
            await uow.students.save(luis)
            await uow.commit()
        eki.alerts.consent = _NoConsent({MOM}, eki.uow)
        run = await eki.alerts.run()
        assert run.send == () and run.outbound_ids == ()
        assert _held(run) == [(LUIS, HoldReason.INACTIVE), (MOM, HoldReason.NO_CONSENT),
                              (DAD, HoldReason.NOT_ALLOWED)]
    finally:
        await eki.aclose()


class _CrashingAttach:
    """A unit of work whose alert log crashes on ``attach`` (after the outbox row was
    queued and the alert recorded, before the commit)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def __aenter__(self) -> _CrashingAttach:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    @property
    def alerts(self) -> Any:
        inner = self._inner.alerts

        class Log:
            def __getattr__(self, name: str) -> Any:
                return getattr(inner, name)

            async def attach(self, alert_id: int, outbound_id: int) -> None:
                raise ConnectionError("the process died here")

        return Log()


async def test_crash_between_queue_and_record_leaves_nothing_then_sends_once(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory)
    try:
        await _family(eki)
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        clock.advance(timedelta(minutes=1))
        await _attendance(eki, [(LUIS, "Química", "2026-12-07", "ausente")])
        crashing = AlertService(lambda: _CrashingAttach(eki.uow()), clock,
                                alert_policy(eki.settings, "meta"))
        with pytest.raises(ConnectionError):
            await crashing.run()
        assert await eki.alerts.sent() == []
        async with eki.uow() as uow:  # the crashed run queued nothing (its outbox row too)
            claimed = await uow.outbox.claim_bulk(clock.now(), timedelta(seconds=1), 10,
                                                  daily_limit=100, window=DAILY_WINDOW)
        assert claimed.messages == []
        first, second = await asyncio.gather(eki.alerts.run(), eki.alerts.run())
        assert len(first.outbound_ids) + len(second.outbound_ids) == 1
        [sent] = await eki.alerts.sent()
        async with eki.uow() as uow:
            [queued] = [*first.outbound_ids, *second.outbound_ids]
            row = await uow.outbox.get(queued)
        assert row is not None and row.purpose is Purpose.ALERT and sent.outbound_id == queued
    finally:
        await eki.aclose()


async def test_switching_rules_is_audited_checked_and_stored_wins(
        uow_factory: UnitOfWorkFactory) -> None:
    eki, clock = await _eki(uow_factory, alert_rules=(AlertRule.ENTREGA,))
    try:
        rules = {c.rule: c for c in await eki.alerts.rules()}
        assert rules[AlertRule.ENTREGA].enabled and not rules[AlertRule.ENTREGA].stored
        assert not rules[AlertRule.FALLA].enabled
        off = await eki.alerts.switch(CLI, AlertRule.ENTREGA, enabled=False)
        assert not off.enabled and off.stored
        rules = {c.rule: c for c in await eki.alerts.rules()}
        assert not rules[AlertRule.ENTREGA].enabled  # the stored state wins over settings
        with pytest.raises(InvalidInput, match="No hay ninguna plantilla"):
            await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True,
                                    template="no_existe:es")
        await eki.templates.add(CLI, "promo", "es", "marketing", "Hola {{1}}")
        with pytest.raises(InvalidInput, match="utility"):
            await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True, template="promo")
        for role in (Role.TEACHER, Role.VIEWER):
            member = StaffMember.create("p@colegio.edu.co", "Profe", role,
                                        created_at=clock.now())
            with pytest.raises(PermissionDenied):
                await eki.alerts.switch(Caller(Principal.staff(member)), AlertRule.FALLA,
                                        enabled=True)
        coordinator = StaffMember.create("c@colegio.edu.co", "Coord", Role.COORDINATOR,
                                         created_at=clock.now())
        on = await eki.alerts.switch(Caller(Principal.staff(coordinator)), AlertRule.FALLA,
                                     enabled=True)
        assert on.enabled and on.updated_by == "c@colegio.edu.co"
        page = await eki.audit.list(CLI, AuditFilter(action="alerts.rule_switched"),
                                    PageRequest(limit=10))
        assert [(e.target_id, e.details["enabled"]) for e in page.items] == [
            ("falla", True), ("entrega", False)]
    finally:
        await eki.aclose()


async def test_progress_import_pulls_the_trigger(uow_factory: UnitOfWorkFactory) -> None:
    eki, _clock = await _eki(uow_factory)
    try:
        await _family(eki)
        waiting = asyncio.create_task(eki.alert_trigger.wait(5.0))
        await asyncio.sleep(0)
        await _attendance(eki, [(LUIS, "Química", "2026-12-07", "presente")])
        assert await asyncio.wait_for(waiting, 2.0) is True
        assert await eki.alert_trigger.wait(0.01) is False
    finally:
        await eki.aclose()


async def test_the_worker_evaluates_after_a_progress_import(
        uow_factory: UnitOfWorkFactory) -> None:
    from eki_entrypoints.worker import PipelineWorker

    eki, clock = await _eki(uow_factory)
    worker = PipelineWorker(eki, poll_interval=0.05)
    try:
        await _family(eki)
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        clock.advance(timedelta(minutes=1))
        await worker.start()  # evaluates at once (nothing yet), then every 15 minutes
        await asyncio.sleep(0.2)
        await _attendance(eki, [(LUIS, "Química", "2026-12-07", "ausente")])
        async with asyncio.timeout(10):  # long before the 15 minutes: the import triggered it
            while not await eki.alerts.sent():  # noqa: ASYNC110 - polling the log is the point
                await asyncio.sleep(0.05)
        [alert] = await eki.alerts.sent()
        assert alert.recipient == LUIS and alert.outbound_id is not None
    finally:
        await worker.stop()
        await eki.aclose()


async def test_the_worker_sees_an_import_of_another_process(
        uow_factory: UnitOfWorkFactory) -> None:
    from eki_entrypoints.worker import PipelineWorker

    eki, clock = await _eki(uow_factory)
    # Another process (its own bus: `eki progress import` on the command line).
    other = await bootstrap(Settings(database_url="sqlite://"), uow=uow_factory,  # type: ignore[arg-type]
                            clock=clock, channel=ConsoleChannel(name="meta"))
    worker = PipelineWorker(eki, poll_interval=0.05)
    worker.alert_import_poll = 0.1
    try:
        await _family(eki)
        await eki.alerts.switch(CLI, AlertRule.FALLA, enabled=True)
        clock.advance(timedelta(minutes=1))
        await worker.start()
        await asyncio.sleep(0.3)
        await _attendance(other, [(LUIS, "Química", "2026-12-07", "ausente")])
        async with asyncio.timeout(10):
            while not await eki.alerts.sent():  # noqa: ASYNC110 - polling the log is the point
                await asyncio.sleep(0.05)
    finally:
        await worker.stop()
        await other.aclose()
        await eki.aclose()
