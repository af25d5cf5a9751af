"""The consent ledger port on memory, SQLite and PostgreSQL: append-only, the latest row per
(phone, version) is the current state, kept questions; and the gate's read costs no unit of
work of its own (it comes with the claim)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eki_adapters.system import FixedClock
from eki_domain import PhoneNumber, Student
from eki_domain.model.consent import (
    ConsentDecision,
    ConsentMedium,
    ConsentPolicy,
    ConsentRecord,
    ConsentRole,
)
from eki_domain.model.messages import IncomingMessage, MessageType
from eki_domain.ports import UnitOfWorkFactory
from eki_domain.services.consent import ConsentDesk
from eki_domain.services.conversation import ConversationService
from eki_domain.services.responder import RuleBasedAssistant
from eki_domain.services.tools import StudentTools

pytestmark = pytest.mark.consent

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)
ANA, BETO, CARO = "+573001112233", "+573004445566", "+573007778899"


def record(phone: str, decision: ConsentDecision, version: str = "1", *,
           minutes: int = 0) -> ConsentRecord:
    at = NOW + timedelta(minutes=minutes)
    return ConsentRecord(phone=phone, role=ConsentRole.STUDENT, decision=decision,
                         medium=ConsentMedium.WHATSAPP, policy_version=version, decided_at=at,
                         recorded_at=at, student_id=7, message_id=f"wamid.{minutes}")


async def test_append_only_and_the_latest_row_is_current(
        uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.consents.append(record(ANA, ConsentDecision.GRANTED),
                                  record(BETO, ConsentDecision.REFUSED))
        await uow.commit()
    async with uow_factory() as uow:
        await uow.consents.append(record(ANA, ConsentDecision.WITHDRAWN, minutes=5),
                                  record(BETO, ConsentDecision.GRANTED, "2", minutes=6))
        await uow.rollback()  # rolled back: nothing
        await uow.consents.append(record(ANA, ConsentDecision.WITHDRAWN, minutes=5),
                                  record(BETO, ConsentDecision.GRANTED, "2", minutes=6))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.consents.current_among([ANA, BETO, CARO], "1") == {
            ANA: ConsentDecision.WITHDRAWN, BETO: ConsentDecision.REFUSED}
        assert await uow.consents.current_among([ANA, BETO], "2") == {
            BETO: ConsentDecision.GRANTED}
        assert await uow.consents.current_among([], "1") == {}
        history = await uow.consents.history(ANA)
    assert [r.decision for r in history] == [ConsentDecision.GRANTED, ConsentDecision.WITHDRAWN]
    first, second = history
    assert first.id is not None and second.id is not None and first.id < second.id
    assert second.message_id == "wamid.5"
    assert (first.role, first.medium, first.student_id, first.decided_at) == (
        ConsentRole.STUDENT, ConsentMedium.WHATSAPP, 7, NOW)


async def test_kept_questions(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.consents.keep_question(ANA, "¿cómo voy?", NOW)
        await uow.consents.keep_question(ANA, "¿y en inglés?", NOW + timedelta(minutes=1))
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.consents.kept_question(ANA, NOW) == "¿y en inglés?"
        assert await uow.consents.kept_question(ANA, NOW + timedelta(minutes=2)) is None
        assert await uow.consents.kept_question(BETO, NOW) is None
        await uow.consents.forget_question(ANA)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.consents.kept_question(ANA, NOW) is None


async def test_lacking_consent(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        await uow.consents.append(record(ANA, ConsentDecision.GRANTED),
                                  record(BETO, ConsentDecision.GRANTED, "0"))
        await uow.commit()
    clock = FixedClock(NOW)
    desk = ConsentDesk(uow_factory, clock, ConsentPolicy(version="1"))  # type: ignore[arg-type]
    assert await desk.lacking_consent([ANA, BETO, CARO, ANA]) == {BETO, CARO}
    off = ConsentDesk(uow_factory, clock,  # type: ignore[arg-type]
                      ConsentPolicy(required=False))
    assert await off.lacking_consent([BETO, CARO]) == set()


class Counting:
    def __init__(self, factory: UnitOfWorkFactory) -> None:
        self.factory = factory
        self.opened = 0

    def __call__(self) -> Any:
        self.opened += 1
        return self.factory()


async def test_the_gate_reads_consent_with_the_claim(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        for name, phone in (("Ana", ANA), ("Beto", BETO), ("Caro", CARO)):
            await uow.students.add(Student.register(name, PhoneNumber.parse(phone),
                                                    registered_at=NOW))
        await uow.consents.append(record(ANA, ConsentDecision.GRANTED),
                                  record(BETO, ConsentDecision.REFUSED))
        await uow.inbox.add([IncomingMessage(
            channel="meta", provider_id=f"wamid.{i}", wa_id=phone[1:], type=MessageType.TEXT,
            sent_at=NOW, text="¿cómo voy?") for i, phone in enumerate((ANA, BETO, CARO))], NOW)
        await uow.commit()
    counting = Counting(uow_factory)
    clock = FixedClock(NOW)
    desk = ConsentDesk(counting, clock, ConsentPolicy())  # type: ignore[arg-type]
    service = ConversationService(
        counting, clock, RuleBasedAssistant(),  # type: ignore[arg-type]
        lambda sid: StudentTools(sid, uow_factory), consent=desk)  # type: ignore[arg-type]
    claimed = await service.claim_turns(10)
    assert counting.opened == 1  # consent came with the claim
    views = {turn.sender.phone: turn.sender.consent for turn in claimed}
    assert {phone: view.decision if view else "?" for phone, view in views.items()} == {
        ANA: ConsentDecision.GRANTED, BETO: ConsentDecision.REFUSED, CARO: None}
    by_phone = {turn.sender.phone: turn for turn in claimed}
    opened = counting.opened
    notice = await service.run_turn(by_phone[CARO])
    assert notice.intent == "consent_required" and notice.tools == ()
    assert counting.opened == opened + 1  # only the turn's own commit
    reminder = await service.run_turn(by_phone[BETO])
    assert reminder.intent == "consent_required"
    answered = await service.run_turn(by_phone[ANA])
    assert answered.intent != "consent_required"
    async with uow_factory() as uow:
        assert await uow.consents.kept_question(CARO, NOW) == "¿cómo voy?"
        assert await uow.consents.kept_question(BETO, NOW) is None  # refused: not kept
