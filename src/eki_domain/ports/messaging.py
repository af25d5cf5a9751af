"""Storage ports of the message pipeline: the inbox and the outbox (conversation state is
in :mod:`eki_domain.ports.conversations`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from eki_domain.model.messages import (
    ClaimedBatch,
    IncomingMessage,
    OutboundMessage,
    StatusReport,
    TurnEnd,
    WebhookDelivery,
)
from eki_domain.model.pacing import BulkClaim


class Inbox(Protocol):
    async def add_event(self, *, channel: str, body: str, received_at: datetime,
                        note: str | None, messages: Sequence[IncomingMessage],
                        alone: bool = False) -> tuple[int, int]:
        """Store a signed webhook's raw event and its messages together (one round trip
        where the database allows): (event id, how many messages were new). ``alone``:
        the unit of work writes nothing else, so a store that writes all of it atomically
        may make it durable at once (the unit of work's commit then has nothing left to
        do)."""
        ...

    async def add_events(self, deliveries: Sequence[WebhookDelivery], *,
                         alone: bool = False) -> list[tuple[int, int]]:
        """:meth:`add_event` for several deliveries at once (one statement where the
        database allows): (event id, new messages) of each, in order; a message in two of
        them is new for the first only. ``alone`` as in :meth:`add_event`."""
        ...

    async def claim_many(self, now: datetime, lease: timedelta, limit: int, *,
                         channels: Sequence[str] | None = None,
                         owner: str | None = None) -> list[ClaimedBatch]:
        """All pending messages of up to ``limit`` senders (oldest first): one batch per
        sender, skipping senders whose messages are already being answered. ``channels``
        limits the claim to messages that came through those channels. ``owner``: the
        claiming worker's id (its heartbeat); the claim then holds as long as that worker
        lives, else until ``now + lease``. Claims of dead workers come back through
        :meth:`recover_expired`. A worker that claims for all its turn runners
        this way keeps concurrent claimers few, so they do not queue on each other's row
        locks."""
        ...

    async def recover_expired(self, now: datetime, *,
                              live_owners: Collection[str] | None = None) -> int:
        """Messages whose worker died become pending again: claimed by an owner not in
        ``live_owners``, or (claims without an owner, or ``live_owners`` None) whose lease
        expired."""
        ...

    async def release_orphans(self, owner: str, keep: Collection[str]) -> int:
        """Messages claimed by ``owner`` (a live worker) for a sender not in ``keep`` (the
        senders it is answering now) become pending again: turns whose end could not be
        recorded (the database was unreachable) are not left claimed forever."""
        ...

    async def complete(self, batch: ClaimedBatch, now: datetime, *,
                       student_id: int | None, intent: str | None,
                       replies: Sequence[OutboundMessage] = (), alone: bool = False) -> bool:
        """Mark the batch done and queue ``replies`` in the outbox (setting their ids) if
        the claim still holds; False: the lease was lost — the replies are not queued and
        the caller rolls the unit of work back (a batch may be half marked). ``alone`` as
        in :meth:`add_event`."""
        ...

    async def complete_many(self, ends: Sequence[TurnEnd], *,
                            alone: bool = False) -> list[bool]:
        """:meth:`complete` for several turns whose batches hold one message each (one
        statement where the database allows): whether each one's claim still held (its
        replies queued, ids set) — a lost claim writes nothing of that turn."""
        ...

    async def release(self, batch: ClaimedBatch, now: datetime, *, retry_at: datetime,
                      max_attempts: int) -> None:
        """Give the batch back after an error: pending again at ``retry_at``, or failed
        after ``max_attempts``."""
        ...

    async def depth(self, now: datetime) -> tuple[int, float]:
        """(pending messages, age in seconds of the oldest pending one)."""
        ...


class Outbox(Protocol):
    async def enqueue(self, message: OutboundMessage) -> int: ...

    async def claim_due(self, now: datetime, lease: timedelta, limit: int, *,
                        channels: Sequence[str] | None = None,
                        owner: str | None = None,
                        priority_only: bool = False) -> list[OutboundMessage]:
        """Queued messages whose time has come, oldest first, at most one per recipient
        (so parts of a long answer go out in order); marked ``sending`` (by ``owner``, a
        worker id, when given). ``priority_only``: replies and staff messages only (a
        broadcast row queued earlier to the same person does not hold a reply back)."""
        ...

    async def claim_bulk(self, now: datetime, lease: timedelta, limit: int, *,
                         daily_limit: int, window: timedelta,
                         channels: Sequence[str] | None = None,
                         owner: str | None = None) -> BulkClaim:
        """Business-initiated rows (broadcasts, alerts) whose time has come, oldest first,
        at most ``limit``, only as many new recipients as fit ``daily_limit`` unique
        recipients per ``window`` (recipients already messaged in the window are free);
        when some do not fit, every due business-initiated row of a recipient outside the
        window waits (``next_attempt_at``) until the window frees up (at least
        :data:`~eki_domain.model.pacing.DEFER_AT_LEAST`). Claims by several processes are
        serialised (the count stays true)."""
        ...

    async def enqueue_many(self, messages: Sequence[OutboundMessage]) -> int:
        """Queue rows of a broadcast; a (broadcast, recipient) already queued is skipped
        (a restarted queueing resumes without duplicates). Returns how many were new."""
        ...

    async def hold_alerts(self, now: datetime, until: datetime) -> int:
        """Quiet hours: queued alert rows due by ``now`` wait until ``until`` (the end of
        the quiet hours); returns how many."""
        ...

    async def daily_usage(self, since: datetime, among: Sequence[str]) -> tuple[int, set[str]]:
        """(unique recipients of business-initiated messages claimed since ``since``,
        those of ``among`` that are among them)."""
        ...

    async def mark_sent(self, message_id: int, provider_id: str, now: datetime) -> None: ...

    async def mark_sent_many(self, sent: Sequence[tuple[int, str]], now: datetime) -> None:
        """:meth:`mark_sent` for each (message id, provider id) of a batch (one statement
        where the database allows)."""
        ...

    async def mark_retry(self, message_id: int, *, error_code: str, error_title: str | None,
                         next_attempt_at: datetime) -> None: ...

    async def mark_failed(self, message_id: int, *, error_code: str, error_title: str | None,
                          now: datetime) -> None: ...

    async def apply_status(self, report: StatusReport, received_at: datetime) -> bool:
        """Record a delivery report and move the message forward (never back). Reports
        for ids not known yet are kept and applied when the id is recorded."""
        ...

    async def fail_abandoned(self, now: datetime, *,
                             live_owners: Collection[str] | None = None) -> int:
        """Messages left ``sending`` by a crashed worker (claimed by an owner not in
        ``live_owners``, or whose lease expired — a send is bounded in time, so even a
        live owner that lost track of one, e.g. while the database was unreachable, gives
        it up; no id recorded) become failed ``DELIVERY_UNKNOWN``: resending could
        deliver them twice."""
        ...

    async def depth(self, now: datetime) -> tuple[int, float]:
        """(replies and staff messages queued or being sent, age in seconds of the oldest):
        broadcasts and alerts are left out, they wait on purpose (pacing, daily limit)."""
        ...

    async def get(self, message_id: int) -> OutboundMessage | None: ...

    async def find_by_provider_ids(self, provider_ids: Sequence[str]
                                   ) -> dict[str, OutboundMessage]:
        """The messages the channel knows by these ids (unknown ids are left out; the live
        feed names the outbound row of a delivery report)."""
        ...

class NoWhatsApp(Protocol):
    """Numbers known not to have WhatsApp (Meta's error 131026): left out of future
    audiences (``uow.no_whatsapp``)."""

    async def mark(self, wa_id: str, at: datetime, code: str) -> None: ...

    async def among(self, wa_ids: Sequence[str]) -> set[str]: ...
