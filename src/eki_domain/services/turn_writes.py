"""What a finished conversation turn decided, writes besides its replies, and tells the rest
of the system (:mod:`eki_domain.services.conversation` runs the turn)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import attrs

from eki_domain.model.consent import ConsentDecision
from eki_domain.model.events import (
    ConsentGiven,
    ConsentWithdrawn,
    Event,
    HandoffOpened,
    OptedIn,
    OptedOut,
    ReplyQueued,
)
from eki_domain.model.messages import ClaimedBatch
from eki_domain.model.student import Student
from eki_domain.ports.alerts import AlertOptOuts
from eki_domain.ports.conversations import Handoffs, OptOuts
from eki_domain.services.alert_commands import AlertCommand, record_alert_choice
from eki_domain.services.consent import ConsentDesk, ConsentUnitOfWork


class SideEffectsUnitOfWork(ConsentUnitOfWork, Protocol):
    """What :func:`record_side_effects` writes through (the conversation's unit of work)."""

    @property
    def opt_outs(self) -> OptOuts: ...

    @property
    def handoffs(self) -> Handoffs: ...

    @property
    def alert_opt_outs(self) -> AlertOptOuts: ...


@attrs.frozen
class TurnDecision:
    """What a turn decided: its replies and what else it writes."""

    intent: str | None
    replies: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    opt_out: bool = False
    opt_in: bool = False
    handoff: bool = False
    number_change: str | None = None  # new wa_id reported by WhatsApp
    flag_number_change: bool = False
    about: str | None = None  # E.164 of the student the answer is about
    guardian_turn: bool = False  # a guardian wrote: not recorded under a student's id
    consent: ConsentDecision | None = None  # a decision to add to the consent ledger
    consent_phone: str | None = None  # whose decision / kept question
    keep_question: str | None = None  # asked before consenting: answered after ACEPTO
    forget_question: bool = False
    alerts: AlertCommand | None = None  # "no más alertas de …" / "activar alertas"

    @property
    def replies_only(self) -> bool:
        """The turn writes nothing but its replies (the store may do it in one step)."""
        return not (self.consent_phone is not None or self.opt_in or self.opt_out
                    or self.alerts is not None or self.handoff or self.flag_number_change)


async def record_side_effects(uow: SideEffectsUnitOfWork, consent: ConsentDesk | None,
                              batch: ClaimedBatch, student: Student | None, phone: str,
                              decision: TurnDecision, now: datetime) -> int:
    """What a turn writes besides its replies; the consent rows recorded."""
    consent_rows = 0
    last = batch.items[-1].message
    if decision.consent_phone is not None and consent is not None:
        consent_rows = await consent.record_turn(
            uow, decision.consent_phone, batch.wa_id, decision=decision.consent,
            keep_question=decision.keep_question,
            forget_question=decision.forget_question,
            message_id=last.provider_id, now=now)
    if decision.opt_in:
        await uow.opt_outs.opt_in(phone)
    if decision.opt_out:
        await uow.opt_outs.opt_out(phone, student.id if student else None, now)
    if decision.alerts is not None:
        await record_alert_choice(uow.alert_opt_outs, decision.alerts, batch.wa_id,
                                  phone, now)
    if decision.handoff and student is not None and student.id is not None:
        await uow.handoffs.open_handoff(student.id, batch.wa_id, now)
    if decision.flag_number_change and student is not None and student.id is not None:
        stored = await uow.students.get(student.id)
        if stored is not None:
            stored.flag_number_change(decision.number_change, now)
            await uow.students.save(stored)
    return consent_rows


def turn_events(student: Student | None, decision: TurnDecision, outbound_ids: Sequence[int],
            consent_rows: int = 0) -> list[Event]:
    """What a committed turn tells the rest of the system."""
    student_id = student.id if student else None
    events: list[Event] = []
    if consent_rows and decision.consent is ConsentDecision.GRANTED:
        events.append(ConsentGiven(student_id=student_id, records=consent_rows))
    elif consent_rows:
        events.append(ConsentWithdrawn(student_id=student_id, records=consent_rows))
    if decision.opt_in:
        events.append(OptedIn(student_id=student_id))
    if decision.opt_out:
        events.append(OptedOut(student_id=student_id))
    if decision.handoff and student_id is not None:
        events.append(HandoffOpened(student_id=student_id))
    if outbound_ids:
        events.append(ReplyQueued(student_id=student_id, outbound_ids=tuple(outbound_ids),
                                  intent=decision.intent))
    return events
