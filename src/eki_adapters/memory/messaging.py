"""In-memory inbox, outbox and conversation state (tests, library users, `eki chat`).

Units of work over one store are serialised, so claims never race; changes are
staged as copies and applied on commit like the SQL adapters' transactions.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from eki_adapters.memory.staging import Staged
from eki_domain.model.messages import (
    ClaimedBatch,
    DeliveryStatus,
    HistoryEntry,
    InboxItem,
    InboxState,
    IncomingMessage,
    OutboundMessage,
    Purpose,
    StatusReport,
    TurnEnd,
    WebhookDelivery,
)
from eki_domain.model.pacing import DEFER_AT_LEAST, BulkClaim, fit_daily_limit
from eki_domain.model.pagination import Page, PageRequest


@attrs.define
class InboxRow:
    id: int
    message: IncomingMessage
    received_at: datetime
    state: InboxState = InboxState.PENDING
    available_at: datetime | None = None
    lease_until: datetime | None = None
    token: str | None = None
    owner: str | None = None
    attempts: int = 0
    student_id: int | None = None
    intent: str | None = None


@attrs.define
class OutboxRow:
    message: OutboundMessage
    next_attempt_at: datetime
    lease_until: datetime | None = None
    owner: str | None = None
    initiated_at: datetime | None = None  # business-initiated rows: first claimed at


@attrs.define
class MessagingState:
    """Everything the three repositories keep; copied per unit of work."""

    inbox: dict[int, InboxRow] = attrs.Factory(dict)
    outbox: dict[int, OutboxRow] = attrs.Factory(dict)
    statuses: list[tuple[StatusReport, bool]] = attrs.Factory(list)
    webhooks: list[dict[str, Any]] = attrs.Factory(list)
    no_whatsapp: dict[str, tuple[datetime, str]] = attrs.Factory(dict)
    opt_outs: dict[str, datetime] = attrs.Factory(dict)
    handoffs: list[dict[str, Any]] = attrs.Factory(list)
    next_id: int = 1

    def new_id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value


def _abandoned(owner: str | None, lease_until: datetime | None, now: datetime,
               live_owners: Collection[str] | None, *, lease_bounds_all: bool = False
               ) -> bool:
    """A claim whose worker is gone (the rule of ``Inbox.recover_expired``)."""
    expired = lease_until is not None and lease_until < now
    if owner is not None and live_owners is not None:
        return owner not in live_owners or (lease_bounds_all and expired)
    return expired


class InMemoryInbox:
    def __init__(self, staged: Staged[MessagingState]) -> None:
        self._s = staged

    async def add(self, messages: Sequence[IncomingMessage], received_at: datetime) -> int:
        state = self._s.state
        known = {(r.message.channel, r.message.provider_id) for r in state.inbox.values()}
        added = 0
        for m in messages:
            if (m.channel, m.provider_id) in known:
                continue
            known.add((m.channel, m.provider_id))
            row_id = state.new_id()
            state.inbox[row_id] = InboxRow(id=row_id, message=m, received_at=received_at,
                                           available_at=received_at)
            added += 1
        return added

    def _claimable(self, row: InboxRow, now: datetime) -> bool:
        return row.state is InboxState.PENDING and (
            row.available_at is None or row.available_at <= now)

    async def recover_expired(self, now: datetime, *,
                              live_owners: Collection[str] | None = None) -> int:
        count = 0
        for row in self._s.state.inbox.values():
            if row.state is InboxState.PROCESSING and _abandoned(row.owner, row.lease_until,
                                                                 now, live_owners):
                row.state, row.token, row.lease_until = InboxState.PENDING, None, None
                row.owner = None
                count += 1
        return count

    async def add_event(self, *, channel: str, body: str, received_at: datetime,
                        note: str | None, messages: Sequence[IncomingMessage],
                        alone: bool = False) -> tuple[int, int]:
        event_id = await InMemoryWebhookLog(self._s).record(
            channel=channel, body=body, signature_ok=True, received_at=received_at, note=note)
        return event_id, await self.add(messages, received_at) if messages else 0

    async def add_events(self, deliveries: Sequence[WebhookDelivery], *,
                         alone: bool = False) -> list[tuple[int, int]]:
        return [await self.add_event(channel=d.channel, body=d.body,
                                     received_at=d.received_at, note=d.note,
                                     messages=d.messages) for d in deliveries]

    async def claim(self, now: datetime, lease: timedelta, *,
                    channels: Sequence[str] | None = None,
                    owner: str | None = None) -> ClaimedBatch | None:
        state = self._s.state
        busy = {r.message.wa_id for r in state.inbox.values()
                if r.state is InboxState.PROCESSING}
        candidates = sorted((r for r in state.inbox.values()
                             if self._claimable(r, now) and r.message.wa_id not in busy
                             and (channels is None or r.message.channel in channels)),
                            key=lambda r: (r.message.sent_at, r.id))
        if not candidates:
            return None
        wa_id = candidates[0].message.wa_id
        token = secrets.token_hex(16)
        rows = [r for r in candidates if r.message.wa_id == wa_id]
        for row in rows:
            row.state, row.token, row.lease_until = InboxState.PROCESSING, token, now + lease
            row.owner = owner
        return ClaimedBatch(wa_id=wa_id, token=token, lease_until=now + lease,
                            items=tuple(InboxItem(id=r.id, message=r.message,
                                                  attempts=r.attempts) for r in rows))

    async def claim_many(self, now: datetime, lease: timedelta, limit: int, *,
                         channels: Sequence[str] | None = None,
                         owner: str | None = None) -> list[ClaimedBatch]:
        batches: list[ClaimedBatch] = []
        while len(batches) < limit:
            batch = await self.claim(now, lease, channels=channels, owner=owner)
            if batch is None:
                break
            batches.append(batch)
        return batches

    async def release_orphans(self, owner: str, keep: Collection[str]) -> int:
        count = 0
        for row in self._s.state.inbox.values():
            if (row.state is InboxState.PROCESSING and row.owner == owner
                    and row.message.wa_id not in keep):
                row.state, row.token, row.lease_until, row.owner = (
                    InboxState.PENDING, None, None, None)
                count += 1
        return count

    async def complete(self, batch: ClaimedBatch, now: datetime, *,
                       student_id: int | None, intent: str | None,
                       replies: Sequence[OutboundMessage] = (), alone: bool = False) -> bool:
        rows = [r for r in self._s.state.inbox.values()
                if r.token == batch.token and r.message.wa_id == batch.wa_id
                and r.state is InboxState.PROCESSING]
        for row in rows:
            row.state, row.student_id, row.intent, row.lease_until = (
                InboxState.DONE, student_id, intent, None)
        if len(rows) != len(batch.items):
            return False
        outbox = InMemoryOutbox(self._s)
        for message in replies:
            await outbox.enqueue(message)
        return True

    async def complete_many(self, ends: Sequence[TurnEnd], *,
                            alone: bool = False) -> list[bool]:
        return [await self.complete(e.batch, e.at, student_id=e.student_id, intent=e.intent,
                                    replies=e.replies) for e in ends]

    async def release(self, batch: ClaimedBatch, now: datetime, *, retry_at: datetime,
                      max_attempts: int) -> None:
        for row in self._s.state.inbox.values():
            if (row.token == batch.token and row.message.wa_id == batch.wa_id
                    and row.state is InboxState.PROCESSING):
                row.attempts += 1
                row.state = (InboxState.FAILED if row.attempts >= max_attempts
                             else InboxState.PENDING)
                row.available_at, row.token, row.lease_until = retry_at, None, None

    async def depth(self, now: datetime) -> tuple[int, float]:
        waiting = [r for r in self._s.state.inbox.values()
                   if r.state in (InboxState.PENDING, InboxState.PROCESSING)]
        if not waiting:
            return 0, 0.0
        oldest = min(r.received_at for r in waiting)
        return len(waiting), max(0.0, (now - oldest).total_seconds())


class InMemoryOutbox:
    def __init__(self, staged: Staged[MessagingState]) -> None:
        self._s = staged

    async def enqueue(self, message: OutboundMessage) -> int:
        state = self._s.state
        message.id = state.new_id()
        state.outbox[message.id] = OutboxRow(message=attrs.evolve(message),
                                             next_attempt_at=message.created_at)
        return message.id

    async def enqueue_many(self, messages: Sequence[OutboundMessage]) -> int:
        state = self._s.state
        taken: set[tuple[int | None, str]] = {
            (r.message.broadcast_id, r.message.to) for r in state.outbox.values()
            if r.message.broadcast_id is not None}
        new = 0
        for message in messages:
            key = (message.broadcast_id, message.to)
            if message.broadcast_id is not None and key in taken:
                continue
            taken.add(key)
            await self.enqueue(attrs.evolve(message, status=DeliveryStatus.QUEUED,
                                            attempts=0))
            new += 1
        return new

    def _due(self, now: datetime, channels: Sequence[str] | None,
             lane: str | None) -> list[OutboxRow]:
        """Due queued rows of the lane, oldest first, at most one per recipient."""
        rows = sorted(self._s.state.outbox.values(), key=lambda r: r.message.id or 0)
        blocked: set[str] = {r.message.to for r in rows
                             if r.message.status is DeliveryStatus.SENDING}
        if lane == "bulk":  # conversations go first, even when queued later
            blocked |= {r.message.to for r in rows if r.message.status is DeliveryStatus.QUEUED
                        and not r.message.purpose.business_initiated}
        due: list[OutboxRow] = []
        for row in rows:
            m = row.message
            if m.status is not DeliveryStatus.QUEUED or (
                    channels is not None and m.channel not in channels):
                continue
            in_lane = (lane is None or (lane == "bulk") == m.purpose.business_initiated)
            if m.to in blocked:
                continue
            if in_lane or lane == "bulk":  # a queued reply does not hold a broadcast back
                blocked.add(m.to)  # later parts wait for this one
            if in_lane and row.next_attempt_at <= now:
                due.append(row)
        if lane == "bulk":
            due.sort(key=lambda r: (r.next_attempt_at, r.message.id or 0))
        return due

    def _claim(self, row: OutboxRow, now: datetime, lease: timedelta,
               owner: str | None) -> OutboundMessage:
        m = row.message
        m.status, m.attempts, row.lease_until = DeliveryStatus.SENDING, m.attempts + 1, (
            now + lease)
        row.owner = owner
        if m.purpose.business_initiated and row.initiated_at is None:
            row.initiated_at = now
        return attrs.evolve(m)

    async def claim_due(self, now: datetime, lease: timedelta, limit: int, *,
                        channels: Sequence[str] | None = None,
                        owner: str | None = None,
                        priority_only: bool = False) -> list[OutboundMessage]:
        due = self._due(now, channels, "priority" if priority_only else None)
        return [self._claim(row, now, lease, owner) for row in due[:limit]]

    async def claim_bulk(self, now: datetime, lease: timedelta, limit: int, *,
                         daily_limit: int, window: timedelta,
                         channels: Sequence[str] | None = None,
                         owner: str | None = None) -> BulkClaim:
        if limit <= 0:
            return BulkClaim()
        candidates = self._due(now, channels, "bulk")[:limit]
        if not candidates:
            return BulkClaim()
        since = now - window
        used, in_window = await self.daily_usage(since, [r.message.to for r in candidates])
        fit, deferred = fit_daily_limit([r.message.to for r in candidates], in_window,
                                        daily_limit - used)
        claimed = [self._claim(candidates[i], now, lease, owner) for i in fit]
        if not deferred:
            return BulkClaim(messages=claimed)
        window_rows = self._initiated(since)
        until = now + DEFER_AT_LEAST
        if window_rows:
            until = max(until, min(r.initiated_at for r in window_rows
                                   if r.initiated_at is not None) + window)
        seen = {r.message.to for r in window_rows}
        for row in self._s.state.outbox.values():
            m = row.message
            if (m.status is DeliveryStatus.QUEUED and m.purpose.business_initiated
                    and row.next_attempt_at <= now and m.to not in seen):
                row.next_attempt_at = until
        return BulkClaim(messages=claimed, deferred=deferred, deferred_until=until)

    def _initiated(self, since: datetime) -> list[OutboxRow]:
        return [r for r in self._s.state.outbox.values()
                if r.initiated_at is not None and r.initiated_at > since
                and r.message.purpose.business_initiated]

    async def hold_alerts(self, now: datetime, until: datetime) -> int:
        held = 0
        for row in self._s.state.outbox.values():
            m = row.message
            if (m.status is DeliveryStatus.QUEUED and m.purpose is Purpose.ALERT
                    and row.next_attempt_at <= now):
                row.next_attempt_at = until
                held += 1
        return held

    async def daily_usage(self, since: datetime, among: Sequence[str]) -> tuple[int, set[str]]:
        seen = {r.message.to for r in self._initiated(since)}
        return len(seen), seen & set(among)

    def _row(self, message_id: int) -> OutboxRow:
        return self._s.state.outbox[message_id]

    async def mark_sent(self, message_id: int, provider_id: str, now: datetime) -> None:
        row = self._row(message_id)
        if row.message.status is not DeliveryStatus.SENDING:
            return
        row.message.status, row.message.provider_id, row.lease_until = (
            DeliveryStatus.SENT, provider_id, None)
        row.message.error_code = row.message.error_title = None
        statuses = self._s.state.statuses
        for index, (report, applied) in enumerate(statuses):
            if report.provider_id == provider_id and not applied:
                row.message.record_status(report.status, error_code=report.error_code,
                                          error_title=report.error_title)
                statuses[index] = (report, True)

    async def mark_sent_many(self, sent: Sequence[tuple[int, str]], now: datetime) -> None:
        for message_id, provider_id in sent:
            await self.mark_sent(message_id, provider_id, now)

    async def mark_retry(self, message_id: int, *, error_code: str, error_title: str | None,
                         next_attempt_at: datetime) -> None:
        row = self._row(message_id)
        row.message.status, row.next_attempt_at, row.lease_until = (
            DeliveryStatus.QUEUED, next_attempt_at, None)
        row.message.error_code, row.message.error_title = error_code, error_title

    async def mark_failed(self, message_id: int, *, error_code: str, error_title: str | None,
                          now: datetime) -> None:
        row = self._row(message_id)
        row.message.status, row.lease_until = DeliveryStatus.FAILED, None
        row.message.error_code, row.message.error_title = error_code, error_title

    async def apply_status(self, report: StatusReport, received_at: datetime) -> bool:
        state = self._s.state
        for row in state.outbox.values():
            if row.message.provider_id == report.provider_id:
                state.statuses.append((report, True))
                return row.message.record_status(report.status, error_code=report.error_code,
                                                  error_title=report.error_title)
        state.statuses.append((report, False))
        return False

    async def fail_abandoned(self, now: datetime, *,
                             live_owners: Collection[str] | None = None) -> int:
        count = 0
        for row in self._s.state.outbox.values():
            m = row.message
            if (m.status is DeliveryStatus.SENDING and m.provider_id is None
                    and _abandoned(row.owner, row.lease_until, now, live_owners,
                                   lease_bounds_all=True)):
                m.status, m.error_code = DeliveryStatus.FAILED, "DELIVERY_UNKNOWN"
                count += 1
        return count

    async def depth(self, now: datetime) -> tuple[int, float]:
        waiting = [r.message for r in self._s.state.outbox.values()
                   if r.message.status in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING)
                   and not r.message.purpose.business_initiated]
        if not waiting:
            return 0, 0.0
        return len(waiting), max(0.0, (now - min(m.created_at for m in waiting)).total_seconds())

    async def get(self, message_id: int) -> OutboundMessage | None:
        row = self._s.state.outbox.get(message_id)
        return None if row is None else attrs.evolve(row.message)

    async def find_by_provider_ids(self, provider_ids: Sequence[str]
                                   ) -> dict[str, OutboundMessage]:
        wanted = set(provider_ids)
        return {row.message.provider_id: attrs.evolve(row.message)
                for row in self._s.state.outbox.values()
                if row.message.provider_id is not None and row.message.provider_id in wanted}


class InMemoryNoWhatsApp:
    def __init__(self, staged: Staged[MessagingState]) -> None:
        self._s = staged

    async def mark(self, wa_id: str, at: datetime, code: str) -> None:
        self._s.state.no_whatsapp.setdefault(wa_id, (at, code))

    async def among(self, wa_ids: Sequence[str]) -> set[str]:
        return set(wa_ids) & self._s.state.no_whatsapp.keys()


class InMemoryWebhookLog:
    def __init__(self, staged: Staged[MessagingState]) -> None:
        self._s = staged

    async def record(self, *, channel: str, body: str, signature_ok: bool,
                     received_at: datetime, note: str | None = None) -> int:
        state = self._s.state
        event_id = state.new_id()
        state.webhooks.append({"id": event_id, "channel": channel, "body": body,
                               "signature_ok": signature_ok, "received_at": received_at,
                               "note": note})
        return event_id


class InMemoryOptOuts:
    def __init__(self, staged: Staged[MessagingState]) -> None:
        self._s = staged

    async def opted_out_among(self, phones: Sequence[str]) -> set[str]:
        return {phone for phone in phones if phone in self._s.state.opt_outs}

    async def opt_out(self, phone: str, student_id: int | None, at: datetime) -> None:
        self._s.state.opt_outs.setdefault(phone, at)

    async def opt_in(self, phone: str) -> bool:
        return self._s.state.opt_outs.pop(phone, None) is not None


class InMemoryHandoffs:
    def __init__(self, staged: Staged[MessagingState]) -> None:
        self._s = staged

    async def paused_among(self, student_ids: Sequence[int]) -> set[int]:
        wanted = set(student_ids)
        return {h["student_id"] for h in self._s.state.handoffs
                if h["released_at"] is None and h["student_id"] in wanted}

    async def open_handoff(self, student_id: int, wa_id: str, at: datetime) -> bool:
        if await self.has_open_handoff(student_id):
            return False
        self._s.state.handoffs.append({"student_id": student_id, "wa_id": wa_id,
                                       "requested_at": at, "released_at": None})
        return True

    async def has_open_handoff(self, student_id: int) -> bool:
        return any(h["student_id"] == student_id and h["released_at"] is None
                   for h in self._s.state.handoffs)

    async def release_handoff(self, student_id: int, at: datetime, by: str) -> bool:
        released = False
        for handoff in self._s.state.handoffs:
            if handoff["student_id"] == student_id and handoff["released_at"] is None:
                handoff["released_at"], handoff["released_by"] = at, by
                released = True
        return released

    async def open_handoffs(self) -> list[tuple[int, str, datetime]]:
        return sorted(((h["student_id"], h["wa_id"], h["requested_at"])
                       for h in self._s.state.handoffs if h["released_at"] is None),
                      key=lambda t: t[2])


class InMemoryHistory:
    def __init__(self, staged: Staged[MessagingState]) -> None:
        self._s = staged

    async def page(self, student_id: int, page: PageRequest) -> Page[HistoryEntry]:
        state = self._s.state
        entries = [
            HistoryEntry(direction="in", at=r.received_at, text=r.message.text,
                         type=str(r.message.type), state=str(r.state),
                         provider_id=r.message.provider_id, intent=r.intent)
            for r in state.inbox.values() if r.student_id == student_id
        ] + [
            HistoryEntry(direction="out", at=r.message.created_at, text=r.message.body,
                         type="text", state=str(r.message.status),
                         provider_id=r.message.provider_id, error_code=r.message.error_code,
                         intent=r.message.intent)
            for r in state.outbox.values() if r.message.student_id == student_id
        ]
        entries.sort(key=lambda e: (e.at, e.direction == "out"), reverse=True)
        window = entries[page.offset : page.offset + page.limit]
        return Page(items=tuple(window), total=len(entries), limit=page.limit,
                    offset=page.offset)

    async def recent(self, student_id: int, limit: int) -> list[HistoryEntry]:
        page = await self.page(student_id, PageRequest(limit=max(1, limit)))
        return list(page.items[:limit])

    async def recent_each(self, student_ids: Sequence[int], limit: int
                          ) -> dict[int, list[HistoryEntry]]:
        """:meth:`recent` of each student (the batched loader's API, not a port method)."""
        return {sid: await self.recent(sid, limit) for sid in dict.fromkeys(student_ids)}
