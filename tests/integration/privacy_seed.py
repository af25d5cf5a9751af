"""A realistic school with every kind of personal data about one student (Ana) and her
mother (Marta), through the real pipeline (webhooks, turns, imports), plus the helpers
that scan a whole database for a phone number."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_domain.model.alerts import AlertRule, RecipientKind, SentAlert
from eki_domain.model.codes import CodePurpose
from eki_domain.model.consent import ConsentDecision, ConsentMedium, ConsentRecord, ConsentRole
from eki_domain.model.inbox import InboxNote
from eki_domain.model.permissions import Principal
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.privacy import RequestKind
from eki_domain.ports.llm import UsageRecord
from eki_domain.services.codes import CodeDesk
from eki_domain.services.families import FamilyService
from eki_domain.services.staff import Caller
from eki_testing import meta
from eki_testing.harness import EkiHarness

ANA, LUIS, MARTA = "3001112233", "3004445566", "3105550001"
ANA_NAME, LUIS_NAME, MARTA_NAME = "Ana Pérez", "Luis Gómez", "Marta Pérez"
ANA_E164, ANA_WA = "+57" + ANA, "57" + ANA
#: What Ana wrote: must be gone after her erasure.
ANA_SECRET_TEXT = "mi clave del casillero es 4417"
CLI = Caller(Principal.cli("tests"))


def seed(h: EkiHarness) -> dict[str, Any]:
    """Every kind of data the registry lists, about Ana (and Marta's guardian data)."""
    ana = h.register(ANA_NAME, ANA, tags=["11a"])
    luis = h.register(LUIS_NAME, LUIS, tags=["11a"])
    grades = h.import_grades([
        {"telefono": ANA, "curso": "Matemáticas", "actividad": "Taller 1", "nota": "4,5"},
        {"telefono": LUIS, "curso": "Matemáticas", "actividad": "Taller 1", "nota": "3,0"},
        {"telefono": ANA, "curso": "Biología", "actividad": "Quiz", "nota": "2,0"},
        {"telefono": LUIS, "curso": "Biología", "actividad": "Quiz", "nota": "4,0"},
    ])
    assert grades.report.rows_rejected == 0, grades.report.issues
    h.import_attendance([
        {"telefono": ANA, "curso": "Matemáticas", "fecha": "2026-03-02", "estado": "ausente"},
        {"telefono": LUIS, "curso": "Matemáticas", "fecha": "2026-03-02", "estado": "presente"},
    ])
    # A roster row with an error keeps the row (and Ana's number) in the errors file.
    h.import_students([{"nombre": LUIS_NAME, "telefono": LUIS},
                       {"nombre": "", "telefono": ANA}])
    families = FamilyService(h.eki.uow, h.eki.clock)  # type: ignore[arg-type]
    h.call(families.add, CLI, MARTA_NAME, MARTA, student_phone=ANA, relationship="mamá")
    # Conversations: Ana's text and voice note, a delivery status, Marta's question.
    assert h.say(ANA, ANA_SECRET_TEXT)
    h.post_webhook(meta.media_message("audio", ANA_WA, "media-ana-1", voice=True))
    h.wait_for_reply(ANA, after=1)
    h.post_webhook(meta.status_update("wamid.ana-reply", "delivered", ANA_WA))
    # WhatsApp says Luis moved to a number that turns out to be Ana's.
    h.post_webhook(meta.user_changed_number("57" + LUIS, ANA_WA))
    h.wait_until(lambda: h.call(h.eki.registration.find, LUIS).new_wa_id == ANA_WA,
                 what="Luis's number change recorded")
    assert h.say(MARTA, "¿cómo va en notas?")
    now = h.eki.clock.now()

    async def direct() -> None:
        async with h.eki.uow() as uow:
            assert ana.id is not None
            await uow.usage.record(UsageRecord(
                at=now, student_id=ana.id, model="gpt-4o-mini", prompt_tokens=900,
                completion_tokens=40, cached_tokens=0, cost_usd=0.0002, latency_ms=900,
                outcome="ok", tools=("get_my_progress",)))
            await uow.handoffs.open_handoff(ana.id, ANA_WA, now)
            await uow.opt_outs.opt_out(ANA_E164, ana.id, now + timedelta(seconds=1))
            # Consent (paper at enrolment) and a question kept before a new version's ACEPTO.
            await uow.consents.append(ConsentRecord(
                phone=ANA_E164, role=ConsentRole.STUDENT, decision=ConsentDecision.GRANTED,
                medium=ConsentMedium.PAPER, policy_version="1", decided_at=now,
                recorded_at=now, student_id=ana.id, recorded_by="cli:tests"))
            await uow.consents.keep_question(ANA_E164, "¿cómo voy en biología?", now)
            # The staff inbox: a note about Ana, and when a coordinator last read her thread.
            await uow.inbox_notes.add(InboxNote.note(ana.id, "Llamar a la mamá", "rectora@x.co",
                                                     now))
            await uow.inbox_views.mark_seen("rectora@x.co", ana.id, now)
            # Outreach: an alert about Ana, her opt-out of task alerts, and WhatsApp's
            # 131026 for one of her number's forms.
            await uow.alerts.claim(SentAlert(
                student_id=ana.id, rule=AlertRule.FALLA, item="2026-03-02:matematicas",
                recipient=ANA_E164, kind=RecipientKind.STUDENT, created_at=now))
            await uow.alert_opt_outs.refuse(ANA_E164, [AlertRule.ENTREGA], now)
            await uow.no_whatsapp.mark(ANA_WA, now, "131026")
            await uow.commit()

    h.call(direct)
    desk = CodeDesk(h.eki.uow, h.eki.clock)  # type: ignore[arg-type]
    h.call(desk.issue, CLI, tags=["11a"], purpose=CodePurpose.GUARDIAN)
    h.call(h.eki.audit.record, CLI, "student.viewed", target_type="student",
           target_id=str(ana.id), page="admin")
    h.call(h.eki.audit.record, CLI, "code.redeem_failed", target_type="phone",
           target_id=ANA_E164, note=f"intento desde {ANA_WA}")
    h.call(h.eki.privacy.open_request, CLI, PhoneNumber.parse(ANA), RequestKind.CONSULTA,
           "pide copia de sus datos")
    return {"ana": ana, "luis": luis}


def text_columns(table: sa.Table) -> Iterable[sa.Column[Any]]:
    for column in table.columns:
        if isinstance(column.type, sa.String | sa.Text | sa.JSON | sa.Enum) or \
                column.type.__class__.__name__.upper() in ("JSON", "JSONB", "TEXT", "VARCHAR"):
            yield column


async def scan(engine: AsyncEngine, needles: Iterable[str]) -> dict[str, int]:
    """``table.column → rows`` containing any needle, over EVERY table of the database
    (reflected: tables added by other branches included)."""
    reflected = sa.MetaData()
    async with engine.connect() as conn:
        await conn.run_sync(lambda sync: reflected.reflect(sync))
        found: dict[str, int] = {}
        for table in reflected.sorted_tables:
            for column in text_columns(table):
                text = sa.cast(column, sa.Text)
                hits = int(await conn.scalar(
                    sa.select(sa.func.count()).select_from(table)
                    .where(sa.or_(*(text.like(f"%{n}%") for n in needles)))) or 0)
                if hits:
                    found[f"{table.name}.{column.name}"] = hits
    return found
