"""Template broadcasts (issue #16): preview an audience, queue one outbox row per
recipient (in batches, unique per broadcast and recipient: a restart resumes without
duplicates), follow the counts, pause, resume, cancel. The dispatcher paces the rows
(:mod:`eki_domain.services.delivery`); replies arrive in the normal conversation flow."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from eki_domain.model.broadcasts import (
    CANCELLED_CODE,
    HELD_UNTIL,
    Audience,
    AudienceResolution,
    Broadcast,
    BroadcastNotFound,
    BroadcastState,
    Candidate,
    Exclusion,
    Preview,
    Recipient,
    RecipientResult,
    recipient_values,
    render_params,
    roll_up,
)
from eki_domain.model.messages import OutboundMessage, Purpose
from eki_domain.model.pacing import DAILY_WINDOW
from eki_domain.model.permissions import Action, require
from eki_domain.model.templates import InvalidTemplate, MessageTemplate
from eki_domain.ports.broadcasts import AudienceSource, Broadcasts
from eki_domain.ports.clock import Clock
from eki_domain.ports.consent import ConsentCheck, ConsentLedger
from eki_domain.ports.messaging import Outbox
from eki_domain.ports.outbound import Templates
from eki_domain.ports.repositories import Transaction
from eki_domain.ports.staff import AuditLog
from eki_domain.services.staff import Caller
from eki_domain.services.templates import resolve_sendable

log = logging.getLogger("eki.broadcasts")

#: Recipients queued per transaction.
QUEUE_BATCH = 2500
#: Phones per consent look-up.
LOOKUP_CHUNK = 1000
#: A broadcast whose queueing started this long ago and did not finish was interrupted
#: (a crash, a kill -9): the worker queues the rest.
RESUME_AFTER = timedelta(seconds=30)
#: Most results rows one CSV holds.
RESULTS_MAX = 100_000


class BroadcastUnitOfWork(Transaction, Protocol):
    @property
    def broadcasts(self) -> Broadcasts: ...

    @property
    def audiences(self) -> AudienceSource: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def templates(self) -> Templates: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def consents(self) -> ConsentLedger: ...


@attrs.frozen
class BroadcastSpec:
    """What staff ask for (CLI, API, admin form)."""

    name: str
    template: str
    language: str = "es"
    params: tuple[str, ...] = ()
    audience: Audience = attrs.Factory(Audience)
    scheduled_at: datetime | None = None


@attrs.frozen
class BroadcastView:
    broadcast: Broadcast
    counts: dict[str, int]

    def as_json(self) -> dict[str, object]:
        b = self.broadcast
        return {
            "id": b.id, "name": b.name, "state": b.state.value,
            "template": b.template, "language": b.language,
            "tags": sorted(b.audience.tags), "all_tags": b.audience.all_tags,
            "to": b.audience.to.value, "recipients": b.recipients,
            "excluded": dict(b.excluded), "counts": self.counts,
            "created_at": b.created_at.isoformat(), "created_by": b.created_by,
            "scheduled_at": b.scheduled_at.isoformat() if b.scheduled_at else None,
            "started_at": b.started_at.isoformat() if b.started_at else None,
            "finished_at": b.finished_at.isoformat() if b.finished_at else None,
        }


def _choose(candidates: Sequence[Candidate]) -> tuple[Candidate | None, Exclusion | None]:
    """One phone's candidates → who it is sent as, or why not (a student record first,
    then the guardian link of lowest priority)."""
    ordered = sorted(candidates, key=lambda c: (c.kind != "student", c.priority,
                                                c.student_id))
    for candidate in ordered:
        if candidate.active and candidate.allowed:
            return candidate, None
    if any(c.active for c in ordered):
        return None, Exclusion.GUARDIAN_NOT_ALLOWED
    return None, Exclusion.INACTIVE


def _rendered(template: MessageTemplate | None, params: Sequence[str]) -> str:
    """What the person reads (the conversation history shows it); empty when the
    parameters do not fit (the provider then refuses the send, and the row says why)."""
    if template is None:
        return ""
    try:
        return template.render(params)
    except InvalidTemplate:
        return ""


class BroadcastService:
    def __init__(self, uow: Callable[[], BroadcastUnitOfWork], clock: Clock, *,
                 channel: str, daily_limit: int = 2000,
                 consent: ConsentCheck | None = None,
                 on_queued: Callable[[], None] | None = None) -> None:
        self._uow = uow
        self._clock = clock
        self._channel = channel
        self.daily_limit = daily_limit
        #: The consent register (docs/privacy.md); None: nobody is excluded for it.
        self.consent = consent
        self._on_queued = on_queued

    # --- audience -----------------------------------------------------------------------

    async def _resolve(self, uow: BroadcastUnitOfWork, broadcast: Broadcast
                       ) -> AudienceResolution:
        by_phone: dict[str, list[Candidate]] = {}
        for candidate in await uow.audiences.candidates(broadcast.audience):
            by_phone.setdefault(candidate.phone, []).append(candidate)
        excluded = dict.fromkeys(Exclusion, 0)
        chosen: list[Candidate] = []
        for candidates in by_phone.values():
            person, reason = _choose(candidates)
            if person is None:
                excluded[reason or Exclusion.INACTIVE] += 1
            else:
                chosen.append(person)
        lacking: set[str] = set()
        if self.consent is not None:
            for start in range(0, len(chosen), LOOKUP_CHUNK):
                lacking |= await self.consent.lacking_consent(
                    [c.phone for c in chosen[start:start + LOOKUP_CHUNK]], uow.consents)
        recipients: list[Recipient] = []
        for person in chosen:
            if person.opted_out:
                excluded[Exclusion.OPTED_OUT] += 1
            elif person.no_whatsapp:
                excluded[Exclusion.NO_WHATSAPP] += 1
            elif person.phone in lacking:
                excluded[Exclusion.NO_CONSENT] += 1
            else:
                values = recipient_values(person, broadcast.audience)
                recipients.append(Recipient(person, render_params(broadcast.params, values)))
        return AudienceResolution(tuple(recipients), excluded)

    async def _preview(self, uow: BroadcastUnitOfWork, broadcast: Broadcast
                       ) -> tuple[AudienceResolution, Preview]:
        template = await resolve_sendable(uow.templates, broadcast.template,
                                          broadcast.language)
        resolution = await self._resolve(uow, broadcast)
        for recipient in resolution.recipients[:1]:  # the count and lengths, rendered once
            template.render(recipient.params)
        if not resolution.recipients:  # still check the count of parameters
            template.check_params(tuple(p or "-" for p in broadcast.params))
        now = self._clock.now()
        wa_ids = [r.candidate.wa_id for r in resolution.recipients]
        used, in_window = await uow.outbox.daily_usage(now - DAILY_WINDOW, wa_ids)
        fresh = len(set(wa_ids) - in_window)
        fit = len(set(wa_ids) & in_window) + min(fresh, max(0, self.daily_limit - used))
        return resolution, Preview(recipients=len(resolution.recipients),
                                   excluded=resolution.excluded,
                                   daily_limit=self.daily_limit, fit_today=fit)

    # --- use cases ----------------------------------------------------------------------

    async def create(self, caller: Caller, spec: BroadcastSpec, *, dry_run: bool = False
                     ) -> tuple[Broadcast, Preview]:
        """Preview the broadcast and, unless ``dry_run``, store it and queue it now (or
        schedule it for ``spec.scheduled_at``)."""
        require(caller.principal, Action.MANAGE_BROADCASTS)
        now = self._clock.now()
        broadcast = Broadcast.create(
            spec.name, spec.template, spec.language, spec.params, spec.audience,
            created_at=now, created_by=caller.principal.actor,
            scheduled_at=spec.scheduled_at)
        async with self._uow() as uow:
            resolution, preview = await self._preview(uow, broadcast)
            if dry_run:
                return broadcast, preview
            broadcast.recipients = preview.recipients
            broadcast.excluded = preview.excluded_json()
            later = spec.scheduled_at is not None and spec.scheduled_at > now
            if later:
                broadcast.schedule()
            else:
                broadcast.start(now)
            await uow.broadcasts.add(broadcast)
            await uow.audit.append(caller.entry(
                now, "broadcast.created", target_type="broadcast",
                target_id=str(broadcast.id), name=broadcast.name,
                template=broadcast.template, recipients=preview.recipients,
                scheduled=broadcast.scheduled_at.isoformat() if later and
                broadcast.scheduled_at else None))
            await uow.commit()
        log.info("broadcast %s created: %d recipient(s)%s", broadcast.id, preview.recipients,
                 " (scheduled)" if later else "")
        if not later:
            assert broadcast.id is not None
            await self._queue(broadcast.id, resolution)
        return broadcast, preview

    async def preview(self, caller: Caller, spec: BroadcastSpec) -> Preview:
        _, preview = await self.create(caller, spec, dry_run=True)
        return preview

    async def _queue(self, broadcast_id: int,
                     resolution: AudienceResolution | None = None) -> int:
        """Queue one row per recipient, :data:`QUEUE_BATCH` per transaction; rows already
        queued (an interrupted earlier run) are skipped. Stops when the broadcast is no
        longer sending (paused, cancelled); :meth:`tick` finishes it later."""
        async with self._uow() as uow:
            broadcast = await uow.broadcasts.get(broadcast_id)
            if broadcast is None or broadcast.state is not BroadcastState.SENDING:
                return 0
            template = await uow.templates.get(broadcast.template, broadcast.language)
            if resolution is None:
                resolution = await self._resolve(uow, broadcast)
        now = self._clock.now()
        rows = [OutboundMessage(
            to=r.candidate.wa_id, body=_rendered(template, r.params), created_at=now,
            channel=self._channel, student_id=r.candidate.student_id, intent="broadcast",
            author=broadcast.created_by, template=broadcast.template,
            template_language=broadcast.language, template_params=r.params,
            content_sid=template.content_sid if template is not None else None,
            purpose=Purpose.BROADCAST, broadcast_id=broadcast_id)
            for r in resolution.recipients]
        new = 0
        for start in range(0, len(rows), QUEUE_BATCH):
            async with self._uow() as uow:
                current = await uow.broadcasts.get(broadcast_id)
                if current is None or current.state is not BroadcastState.SENDING:
                    return new
                new += await uow.outbox.enqueue_many(rows[start:start + QUEUE_BATCH])
                await uow.commit()
        async with self._uow() as uow:
            current = await uow.broadcasts.get(broadcast_id)
            if current is not None and current.state is BroadcastState.SENDING:
                current.queued_at = self._clock.now()
                await uow.broadcasts.save(current)
                await uow.commit()
        if self._on_queued is not None:
            self._on_queued()
        log.info("broadcast %s: %d row(s) queued", broadcast_id, new)
        return new

    async def _transition(self, caller: Caller, broadcast_id: int, action: str) -> Broadcast:
        require(caller.principal, Action.MANAGE_BROADCASTS)
        now = self._clock.now()
        async with self._uow() as uow:
            broadcast = await uow.broadcasts.get(broadcast_id)
            if broadcast is None:
                raise BroadcastNotFound(broadcast_id)
            if action == "paused":
                broadcast.pause()
                held = await uow.broadcasts.hold(broadcast_id, HELD_UNTIL)
            elif action == "resumed":
                broadcast.resume(now)
                held = await uow.broadcasts.release(broadcast_id, now)
            else:
                broadcast.cancel(now)
                held = await uow.broadcasts.cancel_rows(broadcast_id, CANCELLED_CODE, now)
            await uow.broadcasts.save(broadcast)
            await uow.audit.append(caller.entry(
                now, f"broadcast.{action}", target_type="broadcast",
                target_id=str(broadcast_id), rows=held))
            await uow.commit()
        if action == "resumed" and broadcast.state is BroadcastState.SENDING:
            if broadcast.queued_at is None:
                await self._queue(broadcast_id)
            elif self._on_queued is not None:
                self._on_queued()
        return broadcast

    async def pause(self, caller: Caller, broadcast_id: int) -> Broadcast:
        return await self._transition(caller, broadcast_id, "paused")

    async def resume(self, caller: Caller, broadcast_id: int) -> Broadcast:
        return await self._transition(caller, broadcast_id, "resumed")

    async def cancel(self, caller: Caller, broadcast_id: int) -> Broadcast:
        return await self._transition(caller, broadcast_id, "cancelled")

    async def get(self, caller: Caller, broadcast_id: int) -> BroadcastView:
        require(caller.principal, Action.MANAGE_BROADCASTS)
        async with self._uow() as uow:
            broadcast = await uow.broadcasts.get(broadcast_id)
            if broadcast is None:
                raise BroadcastNotFound(broadcast_id)
            counts = await uow.broadcasts.status_counts([broadcast_id])
        return BroadcastView(broadcast, roll_up(counts.get(broadcast_id, {})))

    async def recent(self, caller: Caller, limit: int = 50) -> list[BroadcastView]:
        require(caller.principal, Action.MANAGE_BROADCASTS)
        async with self._uow() as uow:
            found = await uow.broadcasts.recent(max(1, min(limit, 200)))
            # One query for the counts of every listed broadcast (not one per broadcast).
            counts = await uow.broadcasts.status_counts([b.id for b in found if b.id])
            return [BroadcastView(b, roll_up(counts.get(b.id, {})))
                    for b in found if b.id is not None]

    async def results(self, caller: Caller, broadcast_id: int) -> list[RecipientResult]:
        require(caller.principal, Action.MANAGE_BROADCASTS)
        async with self._uow() as uow:
            if await uow.broadcasts.get(broadcast_id) is None:
                raise BroadcastNotFound(broadcast_id)
            return await uow.broadcasts.results(broadcast_id, RESULTS_MAX)

    async def tick(self) -> int:
        """The worker's round (every few seconds): start scheduled broadcasts whose time
        came, finish the queueing of interrupted ones, and mark sent ones done. Returns
        how many broadcasts it acted on."""
        now = self._clock.now()
        async with self._uow() as uow:
            pending = await uow.broadcasts.pending(now)
        acted = 0
        for broadcast_id in pending:
            async with self._uow() as uow:
                broadcast = await uow.broadcasts.get(broadcast_id)
                if broadcast is None:
                    continue
                if broadcast.state is BroadcastState.SCHEDULED:
                    broadcast.start(now)
                    await uow.broadcasts.save(broadcast)
                    await uow.commit()
                    log.info("scheduled broadcast %s started", broadcast_id)
                elif (broadcast.state is BroadcastState.SENDING and broadcast.queued_at is None
                      and broadcast.started_at is not None
                      and now - broadcast.started_at < RESUME_AFTER):
                    continue  # being queued right now by whoever created it
                elif broadcast.state is BroadcastState.SENDING and broadcast.queued_at:
                    counts = roll_up((await uow.broadcasts.status_counts(
                        [broadcast_id])).get(broadcast_id, {}))
                    if counts["queued"] == 0:
                        broadcast.finish(now)
                        await uow.broadcasts.save(broadcast)
                        await uow.commit()
                        log.info("broadcast %s done: %s", broadcast_id, counts)
                        acted += 1
                    continue
            acted += 1
            await self._queue(broadcast_id)
        return acted
