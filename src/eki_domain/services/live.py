"""The live bridge: domain events become live events on the feed (issue #15).

Services publish domain events on the message bus after commit
(:mod:`eki_domain.model.events`); this bridge, subscribed in the composition root, turns
the ones about a conversation into :class:`~eki_domain.model.live.LiveEvent`\\ s — resolving
the student's phone and tags, the outbound row of a delivery report — and publishes them on
the :class:`~eki_domain.ports.live.LiveFeed`.

The publisher never waits for it: :meth:`LiveBridge.accept` only queues the domain event
(bounded: past ``backlog`` pending events, new ones are dropped and counted) and a task of
the running loop drains the queue in batches (one unit of work per batch). When nobody can
receive anything the events are dropped: at once when the feed knows it without asking
(:attr:`LiveFeed.wanted` false: in-process feed, no subscriber), else per batch before any
lookup (:meth:`LiveFeed.has_audience`: across processes, one question to the database) —
a busy pipeline that nobody watches pays nothing for its live events (issue 19).

========================  =================================  ==============================
domain event              live event                          extra fields
========================  =================================  ==============================
MessageReceived           ``message.received`` per sender     ``channel``
ReplyQueued               ``message.status`` per row          ``status: queued``,
                                                              ``outbound_id``, ``intent``
MessagesDispatched        ``message.sent`` / ``message.status``  ``outbound_id``, ``status``
                          (``failed``)                        (``error_code`` if failed)
StatusChanged             ``message.status`` per moved row    ``status``, ``outbound_id``
HandoffOpened             ``handoff.opened``
HandoffTaken              ``handoff.taken``                   ``by``
HandoffAssigned           ``handoff.assigned``                ``to``, ``by``
HandoffReleased           ``handoff.released``                ``by``
NoteAdded                 ``note.added``                      ``note_id``, ``by``
========================  =================================  ==============================
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

import attrs

from eki_domain.model.events import (
    Event,
    HandoffAssigned,
    HandoffOpened,
    HandoffReleased,
    HandoffTaken,
    MessageReceived,
    MessagesDispatched,
    NoteAdded,
    ReplyQueued,
    StatusChanged,
)
from eki_domain.model.live import LiveEvent, LiveEventType, Scalar
from eki_domain.model.messages import OutboundMessage
from eki_domain.model.phone import phone_candidates
from eki_domain.model.student import Student
from eki_domain.ports.clock import Clock
from eki_domain.ports.live import LiveFeed
from eki_domain.ports.messaging import Outbox
from eki_domain.ports.repositories import StudentRepository, Transaction
from eki_domain.services.messagebus import MessageBus

log = logging.getLogger("eki.live")

#: The domain events the bridge turns into live events.
BRIDGED: tuple[type[Event], ...] = (
    MessageReceived, ReplyQueued, MessagesDispatched, StatusChanged, HandoffOpened,
    HandoffTaken, HandoffAssigned, HandoffReleased, NoteAdded)
#: Domain events translated with one unit of work.
BATCH = 200
#: Seconds the bridge lets events gather before asking whether anyone listens (under a
#: burst: a few questions a second instead of one per handful of turns; a person watching
#: the live page does not notice a tenth of a second).
GATHER = 0.1


class LiveUnitOfWork(Transaction, Protocol):
    @property
    def students(self) -> StudentRepository: ...

    @property
    def outbox(self) -> Outbox: ...


@attrs.define
class _Lookups:
    """What one batch of domain events needs to know, read together."""

    students: dict[int, Student | None] = attrs.Factory(dict)
    senders: dict[str, Student | None] = attrs.Factory(dict)
    outbound: dict[int, OutboundMessage | None] = attrs.Factory(dict)
    provider: dict[str, OutboundMessage] = attrs.Factory(dict)


@attrs.define
class _Queue:
    """The domain events waiting in one event loop, and the task publishing them."""

    pending: collections.deque[Event] = attrs.Factory(collections.deque)
    task: asyncio.Task[None] | None = None


class LiveBridge:
    def __init__(self, uow: Callable[[], LiveUnitOfWork], clock: Clock, feed: LiveFeed, *,
                 backlog: int = 10_000) -> None:
        self._uow = uow
        self._clock = clock
        self.feed = feed
        self._backlog = backlog
        #: The events waiting in each event loop, and the task draining them there. One
        #: per loop: an Eki used from two loops (tests, a library user's threads) must not
        #: have one loop's drain forgotten, left running while the other loop closes the
        #: Eki (it held a pooled connection as the engine was disposed).
        self._queues: dict[asyncio.AbstractEventLoop, _Queue] = {}
        self.gather = GATHER
        self.dropped = 0  # domain events dropped because the backlog was full
        self.unheard = 0  # domain events skipped because nobody was listening

    def register(self, bus: MessageBus) -> None:
        """Subscribe to every bridged domain event."""
        for event_type in BRIDGED:
            bus.subscribe(event_type, self.accept)

    def accept(self, event: Event) -> None:
        """Queue a domain event (the bus calls this after commit; never blocks)."""
        if not self.feed.wanted:
            return
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            for gone in [other for other in list(self._queues) if other.is_closed()]:
                self._queues.pop(gone, None)  # a loop closed before its drain finished
            queue = self._queues[loop] = _Queue()
        if len(queue.pending) >= self._backlog:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("live events: %d domain event(s) dropped (the feed is behind)",
                            self.dropped)
            return
        queue.pending.append(event)
        if queue.task is None or queue.task.done():
            queue.task = loop.create_task(self._run(loop, queue), name="eki-live-bridge")

    async def flush(self) -> None:
        """Wait until every domain event queued in this event loop was published (or
        given up)."""
        loop = asyncio.get_running_loop()
        while ((queue := self._queues.get(loop)) is not None and queue.task is not None
               and not queue.task.done()):
            await asyncio.shield(queue.task)

    async def _run(self, loop: asyncio.AbstractEventLoop, queue: _Queue) -> None:
        try:
            await self._drain(queue.pending)
        finally:
            if self._queues.get(loop) is queue and not queue.pending:
                self._queues.pop(loop, None)

    async def _drain(self, pending: collections.deque[Event]) -> None:
        while pending:
            if len(pending) < BATCH and self.gather > 0:
                await asyncio.sleep(self.gather)
            batch = [pending.popleft() for _ in range(min(BATCH, len(pending)))]
            try:
                if not await self.feed.has_audience():
                    self.unheard += len(batch)
                    continue
                events = await self.translate(batch)
                if events:
                    await self.feed.publish(events)
            except Exception:
                log.exception("live events: could not publish %d event(s)", len(batch))

    async def translate(self, events: Sequence[Event]) -> list[LiveEvent]:
        """The live events of ``events`` (in order), with one unit of work."""
        lookups = await self._look_up(events)
        now = self._clock.now()
        out: list[LiveEvent] = []
        for event in events:
            out.extend(_live(event, lookups, now))
        return out

    async def _look_up(self, events: Sequence[Event]) -> _Lookups:
        student_ids: dict[int, None] = {}
        senders: dict[str, None] = {}
        outbound_ids: dict[int, None] = {}
        provider_ids: dict[str, None] = {}
        for event in events:
            if isinstance(event, MessageReceived):
                senders.update(dict.fromkeys(event.senders))
            elif isinstance(event, ReplyQueued):
                outbound_ids.update(dict.fromkeys(event.outbound_ids))
            elif isinstance(event, MessagesDispatched):
                outbound_ids.update(dict.fromkeys((*event.sent, *event.failed)))
            elif isinstance(event, StatusChanged):
                provider_ids.update(dict.fromkeys(p for p, _status, _code in event.moved))
            elif isinstance(event, HandoffOpened | HandoffTaken | HandoffAssigned
                            | HandoffReleased | NoteAdded):
                student_ids[event.student_id] = None
        found = _Lookups()
        async with self._uow() as uow:
            for outbound_id in outbound_ids:
                found.outbound[outbound_id] = await uow.outbox.get(outbound_id)
            if provider_ids:
                found.provider = await uow.outbox.find_by_provider_ids(list(provider_ids))
            for message in (*found.outbound.values(), *found.provider.values()):
                if message is not None and message.student_id is not None:
                    student_ids[message.student_id] = None
            stored = await uow.students.get_many(list(student_ids))
            for student_id in student_ids:
                found.students[student_id] = stored.get(student_id)
            if senders:
                candidates = [phone_candidates(wa_id) or ("+" + wa_id,) for wa_id in senders]
                matches = await uow.students.find_each_by_phones(candidates)
                found.senders = dict(zip(senders, matches, strict=True))
        return found


def _phone_of(wa_id: str) -> str:
    candidates = phone_candidates(wa_id)
    return candidates[0] if candidates else "+"


def _make(kind: LiveEventType, now: datetime, student: Student | None, phone: str,
          **extra: Scalar) -> LiveEvent:
    if student is None:
        return LiveEvent(type=kind, phone=phone, at=now, extra=extra)
    return LiveEvent(type=kind, phone=student.phone.e164, at=now, student_id=student.id,
                     tags=student.tags, extra=extra)


def _outbound(kind: LiveEventType, message: OutboundMessage | None, outbound_id: int,
              lookups: _Lookups, now: datetime, **extra: Scalar) -> list[LiveEvent]:
    if message is None:
        return []
    student = (lookups.students.get(message.student_id)
               if message.student_id is not None else None)
    return [_make(kind, now, student, _phone_of(message.to), outbound_id=outbound_id,
                  **extra)]


_HANDOFFS: dict[type[Event], LiveEventType] = {
    HandoffOpened: LiveEventType.HANDOFF_OPENED, HandoffTaken: LiveEventType.HANDOFF_TAKEN,
    HandoffAssigned: LiveEventType.HANDOFF_ASSIGNED,
    HandoffReleased: LiveEventType.HANDOFF_RELEASED, NoteAdded: LiveEventType.NOTE_ADDED}


def _live(event: Event, lookups: _Lookups, now: datetime) -> list[LiveEvent]:
    kinds = LiveEventType
    if isinstance(event, MessageReceived):
        return [_make(kinds.MESSAGE_RECEIVED, now, lookups.senders.get(wa_id),
                      _phone_of(wa_id), channel=event.channel)
                for wa_id in event.senders]
    if isinstance(event, ReplyQueued):
        return [live for i in event.outbound_ids for live in _outbound(
            kinds.MESSAGE_STATUS, lookups.outbound.get(i), i, lookups, now, status="queued",
            intent=event.intent)]
    if isinstance(event, MessagesDispatched):
        out = [live for i in event.sent for live in _outbound(
            kinds.MESSAGE_SENT, lookups.outbound.get(i), i, lookups, now, status="sent")]
        for i in event.failed:
            message = lookups.outbound.get(i)
            out += _outbound(kinds.MESSAGE_STATUS, message, i, lookups, now, status="failed",
                             error_code=message.error_code if message else None)
        return out
    if isinstance(event, StatusChanged):
        out = []
        for provider_id, status, code in event.moved:
            message = lookups.provider.get(provider_id)
            if message is not None and message.id is not None:
                failed = {"error_code": code} if status == "failed" else {}
                out += _outbound(kinds.MESSAGE_STATUS, message, message.id, lookups, now,
                                 status=status, **failed)
        return out
    kind = _HANDOFFS.get(type(event))
    if kind is None or not isinstance(event, HandoffOpened | HandoffTaken | HandoffAssigned
                                      | HandoffReleased | NoteAdded):
        return []
    student = lookups.students.get(event.student_id)
    if student is None:
        return []
    extra: dict[str, Scalar] = {}
    if isinstance(event, HandoffTaken | HandoffReleased):
        extra["by"] = event.by
    elif isinstance(event, HandoffAssigned):
        extra.update(to=event.to, by=event.by)
    elif isinstance(event, NoteAdded):
        extra.update(note_id=event.note_id, by=event.by)
    return [_make(kind, now, student, student.phone.e164, **extra)]
