"""A person of the school writes to a student (the API, ``eki send``, the inbox).

Every staff message goes through the outbox, like the bot's replies, and obeys WhatsApp's
24-hour window: measured from the ``timestamp`` of the student's last inbound message, free
text is refused once it closed (:class:`~eki_domain.model.templates.WindowClosed`) and only an
approved template may be sent. The dispatcher checks the window again before sending a
queued free-text staff message.

Replying takes the conversation over: without an open hand-off one is opened and assigned to
the person replying, so the bot never talks over staff. A hand-off with no staff activity for
``idle`` goes back to the bot (:meth:`StaffMessages.release_idle`, run by the worker).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from eki_domain.errors import EkiError, InvalidInput, StudentNotFound
from eki_domain.model.events import (
    Event,
    HandoffOpened,
    HandoffReleased,
    HandoffTaken,
    ReplyQueued,
)
from eki_domain.model.inbox import InboxNote, ThreadEvent
from eki_domain.model.messages import MAX_MESSAGE_CHARS, OutboundMessage, Purpose
from eki_domain.model.permissions import Action, Principal, require
from eki_domain.model.phone import mask_phone
from eki_domain.model.schedule import window_left, window_open
from eki_domain.model.student import Student
from eki_domain.model.templates import WindowClosed
from eki_domain.ports.clock import Clock
from eki_domain.ports.conversations import Handoffs, OptOuts
from eki_domain.ports.messaging import Outbox
from eki_domain.ports.outbound import HandoffAssignments, ServiceWindows, Templates
from eki_domain.ports.repositories import Transaction
from eki_domain.ports.staff import AuditLog
from eki_domain.ports.staff_inbox import InboxNotes
from eki_domain.services.messagebus import MessageBus
from eki_domain.services.staff import Caller
from eki_domain.services.templates import resolve_sendable

log = logging.getLogger("eki.staff_messages")

#: Who releases an idle hand-off (``handoffs.released_by`` and the audit log).
IDLE_RELEASER = "eki:inactividad"
STAFF_INTENT = "staff"


class RecipientOptedOut(EkiError):
    code = "OPTED_OUT"

    def __init__(self) -> None:
        super().__init__("El estudiante pidió no recibir mensajes (BAJA): no se le puede "
                         "escribir hasta que envíe ALTA.")


class HandoffUnitOfWork(Transaction, Protocol):
    """What taking a conversation over needs (here and in the staff inbox)."""

    @property
    def handoffs(self) -> Handoffs: ...

    @property
    def assignments(self) -> HandoffAssignments: ...

    @property
    def windows(self) -> ServiceWindows: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def inbox_notes(self) -> InboxNotes: ...


class StaffMessagesUnitOfWork(HandoffUnitOfWork, Protocol):
    @property
    def outbox(self) -> Outbox: ...

    @property
    def templates(self) -> Templates: ...

    @property
    def opt_outs(self) -> OptOuts: ...


async def contact_wa_id(windows: ServiceWindows, student_id: int, student: Student) -> str:
    """The WhatsApp id the student last wrote from (their phone when they never wrote)."""
    contact = await windows.last_contact(student_id)
    return contact[0] if contact else student.phone.e164.lstrip("+")


async def take_over(uow: HandoffUnitOfWork, student_id: int, to: str, assignee: str,
                    now: datetime, *, reassign: bool = False) -> tuple[bool, bool]:
    """Open the hand-off if needed and record the staff activity: (opened, assigned to
    ``assignee`` now). Without ``reassign`` an assigned conversation keeps its owner."""
    opened = await uow.handoffs.open_handoff(student_id, to, now)
    if opened or reassign or await uow.assignments.assignee(student_id) is None:
        await uow.assignments.assign(student_id, assignee, now)
        return opened, True
    await uow.assignments.touch(student_id, now)
    return opened, False


@attrs.frozen
class TemplateChoice:
    name: str
    language: str = "es"
    params: tuple[str, ...] = ()


@attrs.frozen
class QueuedStaffMessage:
    id: int
    student_id: int
    #: True when this reply opened the hand-off (the bot is now paused).
    took_over: bool
    template: str | None
    #: Time left in the 24-hour window when the message was queued.
    window_left: timedelta
    state: str = "queued"


class StaffMessages:
    def __init__(self, uow: Callable[[], StaffMessagesUnitOfWork], clock: Clock, *,
                 channel: str, idle: timedelta = timedelta(hours=24),
                 bus: MessageBus | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._channel = channel
        self._idle = idle
        self._bus = bus or MessageBus()

    async def send(self, caller: Caller, student: Student, *, text: str | None = None,
                   template: TemplateChoice | None = None) -> QueuedStaffMessage:
        """Queue ``text`` or ``template`` for the student (exactly one of them)."""
        if (text is None) == (template is None):
            raise InvalidInput("Envíe un texto o una plantilla (uno de los dos).")
        if student.id is None:  # pragma: no cover - stored students have ids
            raise StudentNotFound(student.phone.e164)
        principal = caller.principal
        require(principal, Action.MANAGE_HANDOFF, student.tags, reference=student.phone.e164)
        if text is not None and (not text.strip() or len(text) > MAX_MESSAGE_CHARS):
            raise InvalidInput(f"El mensaje debe tener entre 1 y {MAX_MESSAGE_CHARS} "
                               f"caracteres (tiene {len(text)}).")
        now = self._clock.now()
        events: list[Event] = []
        async with self._uow() as uow:
            if await uow.opt_outs.opted_out_among([student.phone.e164]):
                raise RecipientOptedOut()
            contact = await uow.windows.last_contact(student.id)
            to, channel = contact or (student.phone.e164.lstrip("+"), self._channel)
            last_in = (await uow.windows.last_inbound_at([to])).get(to)
            message = OutboundMessage(to=to, body="", created_at=now, channel=channel,
                                      student_id=student.id, intent=STAFF_INTENT,
                                      author=principal.actor, purpose=Purpose.STAFF)
            if template is not None:
                chosen = await resolve_sendable(uow.templates, template.name,
                                                template.language)
                message = attrs.evolve(
                    message, body=chosen.render(template.params), template=chosen.name,
                    template_language=chosen.language,
                    template_params=chosen.check_params(template.params),
                    content_sid=chosen.content_sid)
            else:
                if not window_open(last_in, now):
                    raise WindowClosed()
                message = attrs.evolve(message, body=str(text))
            took_over, assigned = await take_over(uow, student.id, to, principal.actor, now)
            message_id = await uow.outbox.enqueue(message)
            await uow.audit.append(caller.entry(
                now, "inbox.replied", target_type="student", target_id=str(student.id),
                message_id=message_id, kind="template" if template else "text",
                template=message.template, took_over=took_over))
            await uow.commit()
        if took_over:
            events.append(HandoffOpened(student_id=student.id))
        if assigned:
            events.append(HandoffTaken(student_id=student.id, by=principal.actor))
        events.append(ReplyQueued(student_id=student.id, outbound_ids=(message_id,),
                                  intent=STAFF_INTENT))
        await self._bus.publish(*events)
        log.info("staff message %s queued for %s by %s (%s)", message_id, mask_phone(to),
                 principal.kind.value, "template" if template else "text")
        return QueuedStaffMessage(id=message_id, student_id=student.id, took_over=took_over,
                                  template=message.template,
                                  window_left=window_left(last_in, now))

    async def take(self, caller: Caller, student: Student) -> bool:
        """Assign the student's conversation to the caller (opening a hand-off if none is
        open); True when a hand-off was opened."""
        if student.id is None:  # pragma: no cover
            raise StudentNotFound(student.phone.e164)
        require(caller.principal, Action.MANAGE_HANDOFF, student.tags,
                reference=student.phone.e164)
        now = self._clock.now()
        async with self._uow() as uow:
            to = await contact_wa_id(uow.windows, student.id, student)
            opened, _assigned = await take_over(uow, student.id, to, caller.principal.actor,
                                                now, reassign=True)
            await uow.inbox_notes.add(InboxNote.system(
                student.id, ThreadEvent.TAKEN, f"Tomada por {caller.principal.actor}.", now,
                author=caller.principal.actor))
            await uow.audit.append(caller.entry(
                now, "handoff.taken", target_type="student", target_id=str(student.id),
                opened=opened))
            await uow.commit()
        taken = HandoffTaken(student_id=student.id, by=caller.principal.actor)
        await self._bus.publish(
            *((HandoffOpened(student_id=student.id), taken) if opened else (taken,)))
        return opened

    async def release_idle(self) -> list[int]:
        """Give back to the bot every hand-off without staff activity for ``idle``; the
        students' ids."""
        now = self._clock.now()
        async with self._uow() as uow:
            idle = await uow.assignments.idle_since(now - self._idle)
            released = []
            for student_id in idle:
                if await uow.handoffs.release_handoff(student_id, now, IDLE_RELEASER):
                    released.append(student_id)
                    await uow.inbox_notes.add(InboxNote.system(
                        student_id, ThreadEvent.IDLE_RELEASED,
                        "Devuelta al bot por inactividad.", now))
                    await uow.audit.append(Caller(Principal.service()).entry(
                        now, "handoff.released", target_type="student",
                        target_id=str(student_id), reason="idle",
                        idle_hours=int(self._idle.total_seconds() // 3600)))
            await uow.commit()
        if released:
            log.info("%d hand-off(s) idle for %s went back to the bot", len(released),
                     self._idle)
            await self._bus.publish(*(HandoffReleased(student_id=s, by=IDLE_RELEASER)
                                      for s in released))
        return released

