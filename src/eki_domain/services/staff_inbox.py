"""The staff inbox (issue #15): the list of conversations, one thread, internal notes,
assignment, quick replies and the first-response figures of the dashboard.

Sending goes through :class:`~eki_domain.services.staff_messages.StaffMessages` (the outbox
and the 24-hour window); this service never sends anything itself. Notes are stored and
never sent. Every note, assignment and quick-reply change is audited in the same
transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

import attrs

from eki_domain.errors import InvalidInput, StudentNotFound
from eki_domain.model.events import HandoffAssigned, HandoffOpened, NoteAdded
from eki_domain.model.inbox import (
    Activity,
    InboxNote,
    NoteKind,
    QuickReply,
    ThreadEvent,
    ThreadItem,
    expand_shortcuts,
    normalize_shortcut,
    percentile,
    used_shortcuts,
)
from eki_domain.model.permissions import Action, Principal, can, require, student_scope
from eki_domain.model.phone import phone_candidates
from eki_domain.model.schedule import BusinessHours, window_left
from eki_domain.model.staff import StaffMember
from eki_domain.model.student import Student
from eki_domain.ports.clock import Clock
from eki_domain.ports.repositories import StudentRepository
from eki_domain.ports.staff import StaffDirectory
from eki_domain.ports.staff_inbox import InboxViews, QuickReplies
from eki_domain.services.messagebus import MessageBus
from eki_domain.services.staff import Caller
from eki_domain.services.staff_messages import (
    IDLE_RELEASER,
    HandoffUnitOfWork,
    contact_wa_id,
    take_over,
)

#: Messages of a thread shown at once (the newest).
THREAD_LIMIT = 200
#: "Todas": students who wrote in the last days, at most this many.
RECENT_DAYS = 30
RECENT_LIMIT = 100


class InboxUnitOfWork(HandoffUnitOfWork, Protocol):
    @property
    def students(self) -> StudentRepository: ...

    @property
    def staff(self) -> StaffDirectory: ...

    @property
    def quick_replies(self) -> QuickReplies: ...

    @property
    def inbox_views(self) -> InboxViews: ...


class Tab(StrEnum):
    MINE = "mias"
    UNASSIGNED = "sin-asignar"
    ALL = "todas"


@attrs.frozen
class InboxRow:
    student: Student
    activity: Activity
    #: The hand-off is open (the bot is paused).
    open: bool
    assigned_to: str | None
    requested_at: datetime | None
    #: Since when a person waits for an answer (None: nobody waits).
    waiting_since: datetime | None
    window_left: timedelta


@attrs.frozen
class InboxList:
    waiting: tuple[InboxRow, ...]
    rows: tuple[InboxRow, ...]
    tab: Tab
    counts: dict[str, int]


@attrs.frozen
class ResponseFigures:
    """First-response times (business minutes) of the hand-offs of a period, and the open
    ones waiting longer than the SLA."""

    answered: int
    p50: float | None
    p90: float | None
    over_sla: int
    sla_minutes: int


class StaffInbox:
    def __init__(self, uow: Callable[[], InboxUnitOfWork], clock: Clock, *,
                 business_hours: BusinessHours, sla: timedelta = timedelta(minutes=120),
                 bus: MessageBus | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._hours = business_hours
        self._sla = sla
        self._bus = bus or MessageBus()

    # -- reading ------------------------------------------------------------------------

    async def overview(self, principal: Principal, tab: Tab = Tab.ALL) -> InboxList:
        """The waiting conversations (oldest first), then the rows of ``tab``."""
        require(principal, Action.VIEW_HANDOFFS)
        now = self._clock.now()
        tags = student_scope(principal)
        async with self._uow() as uow:
            handoffs = await uow.assignments.open_with_assignees()
            recent = await uow.inbox_views.recent_students(
                now - timedelta(days=RECENT_DAYS), tags, RECENT_LIMIT)
            unclaimed = await _unclaimed(uow, now)
            ids = list(dict.fromkeys([*unclaimed, *(h[0] for h in handoffs), *recent]))
            found = await uow.students.get_many(ids)
            students = {sid: found[sid] for sid in ids if sid in found
                        and can(principal, Action.VIEW_CONVERSATION, found[sid].tags)}
            activity = await uow.inbox_views.activity(list(students), principal.actor)
        for sid, lines in unclaimed.items():
            if sid in activity:
                activity[sid] = _with_unclaimed(activity[sid], lines)
        open_by_id = {sid: (at, owner) for sid, _wa, at, owner in handoffs}
        rows: dict[int, InboxRow] = {}
        for sid, student in students.items():
            act = activity.get(sid, Activity(student_id=sid))
            requested, owner = open_by_id.get(sid, (None, None))
            waiting_since = None
            if sid in open_by_id:
                if act.last_staff_at is None or (requested is not None
                                                  and act.last_staff_at < requested):
                    waiting_since = requested
                else:
                    waiting_since = act.first_unanswered_at
            rows[sid] = InboxRow(student=student, activity=act, open=sid in open_by_id,
                                 assigned_to=owner, requested_at=requested,
                                 waiting_since=waiting_since,
                                 window_left=window_left(act.last_inbound_at, now))
        waiting = sorted((r for r in rows.values() if r.waiting_since is not None),
                         key=lambda r: (r.waiting_since or now, r.student.id or 0))
        opened = [rows[sid] for sid, *_ in handoffs if sid in rows]
        mine = [r for r in opened if r.assigned_to == principal.actor]
        unassigned = [r for r in opened if r.assigned_to is None]
        everyone = sorted(rows.values(), key=lambda r: (
            r.activity.last_at or datetime.min.replace(tzinfo=now.tzinfo)), reverse=True)
        chosen = {Tab.MINE: mine, Tab.UNASSIGNED: unassigned, Tab.ALL: everyone}[tab]
        return InboxList(waiting=tuple(waiting), rows=tuple(chosen), tab=tab, counts={
            "waiting": len(waiting), Tab.MINE.value: len(mine),
            Tab.UNASSIGNED.value: len(unassigned), Tab.ALL.value: len(everyone)})

    async def thread(self, principal: Principal, student: Student, *, mark_seen: bool = True
                     ) -> list[ThreadItem]:
        """The student's whole thread, oldest first: messages, notes and system events."""
        sid = _id(student)
        require(principal, Action.VIEW_CONVERSATION, student.tags,
                reference=student.phone.e164)
        now = self._clock.now()
        async with self._uow() as uow:
            messages = await uow.inbox_views.thread(sid, THREAD_LIMIT)
            since = messages[0].at if len(messages) >= THREAD_LIMIT else datetime.min.replace(
                tzinfo=now.tzinfo)
            notes = await uow.inbox_notes.for_student(sid, since)
            messages += [ThreadItem(kind="in", at=at, text=text, state="pending", type=kind)
                         for at, _sent, text, kind in (await _unclaimed(uow, now)).get(sid, [])]
            spans = await uow.inbox_views.handoff_spans(sid, since)
            opted = await uow.inbox_views.opted_out_at(student.phone.e164)
            if mark_seen:
                await uow.inbox_views.mark_seen(principal.actor, sid, now)
                await uow.commit()
        items = list(messages)
        items += [ThreadItem(kind=n.kind.value, at=n.at, text=n.body, author=n.author,
                             event=n.event) for n in notes]
        for requested, released, by in spans:
            items.append(ThreadItem(kind="event", at=requested, text="Atención humana abierta: el "
                                    "bot queda en pausa.",
                                    event=ThreadEvent.OPENED.value))
            if released is not None and by != IDLE_RELEASER:  # idle: its own event note
                items.append(ThreadItem(kind="event", at=released, author=by,
                                        text="Devuelta al bot.",
                                        event=ThreadEvent.RELEASED.value))
        if opted is not None:
            items.append(ThreadItem(kind="event", at=opted, event=ThreadEvent.OPTED_OUT.value,
                                    text="Pidió no recibir mensajes (BAJA): no se le puede "
                                    "escribir hasta que envíe ALTA."))
        order = {"in": 0, "event": 1, "out": 2, "note": 3}
        items.sort(key=lambda i: (i.at, order.get(i.kind, 4)))
        return items

    async def assignable(self, principal: Principal, student: Student) -> list[StaffMember]:
        """Active staff who may manage the student's conversation."""
        require(principal, Action.MANAGE_HANDOFF, student.tags, reference=student.phone.e164)
        async with self._uow() as uow:
            members = await uow.staff.list()
        return [m for m in members if m.active
                and can(Principal.staff(m), Action.MANAGE_HANDOFF, student.tags)]

    # -- acting -------------------------------------------------------------------------

    async def add_note(self, caller: Caller, student: Student, text: str) -> int:
        sid = _id(student)
        require(caller.principal, Action.MANAGE_HANDOFF, student.tags,
                reference=student.phone.e164)
        now = self._clock.now()
        note = InboxNote.note(sid, text, caller.principal.actor, now)
        async with self._uow() as uow:
            note_id = await uow.inbox_notes.add(note)
            await uow.audit.append(caller.entry(now, "inbox.noted", target_type="student",
                                                target_id=str(sid), note_id=note_id))
            await uow.commit()
        await self._bus.publish(NoteAdded(student_id=sid, note_id=note_id,
                                          by=caller.principal.actor))
        return note_id

    async def assign(self, caller: Caller, student: Student, email: str) -> StaffMember:
        """Give the conversation to ``email`` (opening a hand-off when none is open)."""
        sid = _id(student)
        require(caller.principal, Action.MANAGE_HANDOFF, student.tags,
                reference=student.phone.e164)
        now = self._clock.now()
        async with self._uow() as uow:
            member = await uow.staff.get_by_email(email.strip().lower()[:254])
            if (member is None or not member.active or not can(
                    Principal.staff(member), Action.MANAGE_HANDOFF, student.tags)):
                raise InvalidInput("Esa persona no existe, está desactivada o no puede "
                                   "atender a este estudiante.")
            opened, _ = await take_over(uow, sid, await contact_wa_id(uow.windows, sid, student),
                                        member.email, now, reassign=True)
            await uow.inbox_notes.add(InboxNote.system(
                sid, ThreadEvent.ASSIGNED, f"Asignada a {member.name} por "
                f"{caller.principal.actor}.", now, author=caller.principal.actor))
            await uow.audit.append(caller.entry(now, "handoff.assigned", target_type="student",
                                                target_id=str(sid), to=member.email,
                                                opened=opened))
            await uow.commit()
        if opened:
            await self._bus.publish(HandoffOpened(student_id=sid))
        await self._bus.publish(HandoffAssigned(student_id=sid, to=member.email,
                                               by=caller.principal.actor))
        return member

    # -- quick replies ------------------------------------------------------------------

    async def quick_replies(self) -> list[QuickReply]:
        async with self._uow() as uow:
            return await uow.quick_replies.list()

    async def expand(self, text: str) -> str:
        """``text`` with every ``/atajo`` replaced by its saved answer."""
        names = used_shortcuts(text)
        if not names:
            return text
        async with self._uow() as uow:  # one read: a text may name many shortcuts
            found = {r.shortcut: r.body for r in await uow.quick_replies.list()
                     if r.shortcut in names}
        return expand_shortcuts(text, found)

    async def save_quick_reply(self, caller: Caller, shortcut: str, body: str) -> bool:
        require(caller.principal, Action.MANAGE_QUICK_REPLIES)
        now = self._clock.now()
        reply = QuickReply.create(shortcut, body, caller.principal.actor, now)
        async with self._uow() as uow:
            new = await uow.quick_replies.save(reply)
            await uow.audit.append(caller.entry(now, "quick_reply.saved",
                                                target_type="quick_reply",
                                                target_id=reply.shortcut, new=new))
            await uow.commit()
        return new

    async def delete_quick_reply(self, caller: Caller, shortcut: str) -> bool:
        require(caller.principal, Action.MANAGE_QUICK_REPLIES)
        name = normalize_shortcut(shortcut)
        now = self._clock.now()
        async with self._uow() as uow:
            deleted = await uow.quick_replies.delete(name)
            if deleted:
                await uow.audit.append(caller.entry(now, "quick_reply.deleted",
                                                    target_type="quick_reply", target_id=name))
            await uow.commit()
        return deleted

    # -- figures ------------------------------------------------------------------------

    async def response_figures(self, principal: Principal, *, days: int = 30
                               ) -> ResponseFigures:
        """First-response p50/p90 (business minutes) of the hand-offs of the last ``days``
        and the open hand-offs waiting longer than the SLA (business minutes too)."""
        now = self._clock.now()
        tags = student_scope(principal)
        period = now - timedelta(days=days)
        async with self._uow() as uow:
            open_rows = await uow.assignments.open_with_assignees()
            oldest = min([period, *(at for _, _, at, _ in open_rows)])
            spans = await uow.inbox_views.first_responses(oldest)
            if tags is not None:
                found = await uow.students.get_many([s[0] for s in spans])
                spans = [s for s in spans if s[0] in found and tags & found[s[0]].tags]
        minutes = [self._hours.minutes_between(at, first) for _, at, _, first in spans
                   if first is not None and at >= period]
        sla = self._sla.total_seconds() / 60
        over = sum(1 for _, at, released, first in spans if first is None
                   and released is None and self._hours.minutes_between(at, now) > sla)
        return ResponseFigures(answered=len(minutes), p50=percentile(minutes, 0.5),
                               p90=percentile(minutes, 0.9), over_sla=over,
                               sla_minutes=int(sla))


#: Messages the worker has not attributed yet, looked at per listing (they are few: the
#: worker finishes them within seconds).
UNCLAIMED_LIMIT = 500
Unclaimed = list[tuple[datetime, datetime, str | None, str]]


async def _unclaimed(uow: InboxUnitOfWork, now: datetime) -> dict[int, Unclaimed]:
    """Inbound messages no turn attributed yet, by the student their sender is: the list and
    the thread show a message as soon as the webhook stored it, not only once the bot (or
    the model) answered."""
    rows = await uow.inbox_views.pending_inbound(now - timedelta(days=1), UNCLAIMED_LIMIT)
    senders = list(dict.fromkeys(wa_id for wa_id, *_ in rows))
    if not senders:
        return {}
    found = await uow.students.find_each_by_phones(
        [phone_candidates(w) or ("+" + w,) for w in senders])
    owner = {w: s.id for w, s in zip(senders, found, strict=True)
             if s is not None and s.id is not None}
    by_student: dict[int, Unclaimed] = {}
    for wa_id, received, sent, text, kind in rows:
        if wa_id in owner:
            by_student.setdefault(owner[wa_id], []).append((received, sent, text, kind))
    return by_student


def _with_unclaimed(act: Activity, lines: Unclaimed) -> Activity:
    newest = max(lines, key=lambda line: line[0])
    later = act.last_at is None or newest[0] >= act.last_at
    sent = max(line[1] for line in lines)
    first = min(line[0] for line in lines)
    return attrs.evolve(
        act, unread=act.unread + len(lines),
        last_at=newest[0] if later else act.last_at,
        last_direction="in" if later else act.last_direction,
        last_text=(newest[2] if later else act.last_text),
        last_inbound_at=sent if act.last_inbound_at is None else max(sent,
                                                                     act.last_inbound_at),
        first_unanswered_at=act.first_unanswered_at or first)


def _id(student: Student) -> int:
    if student.id is None:  # pragma: no cover - stored students have ids
        raise StudentNotFound(student.phone.e164)
    return student.id


__all__ = ["THREAD_LIMIT", "InboxList", "InboxRow", "InboxUnitOfWork", "NoteKind",
           "ResponseFigures", "StaffInbox", "Tab"]
