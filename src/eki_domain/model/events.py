"""Domain events: things that happened, recorded by the services and published on the
message bus (:mod:`eki_domain.services.messagebus`) once their transaction committed.

Events are facts in the past tense, small and immutable. They carry ids and counts, never
message texts or full phone numbers (handlers log them). To react to one, subscribe a handler
in the composition root (``eki_entrypoints.bootstrap``); to add one, declare it here and
publish it from the service where it happens.
"""

from __future__ import annotations

import attrs


@attrs.frozen
class Event:
    """Base of every domain event (subscribe to it to see them all)."""


@attrs.frozen
class MessageReceived(Event):
    """A webhook delivery stored ``new_messages`` messages not seen before."""

    channel: str
    new_messages: int
    event_id: int
    #: The senders (``wa_id`` as the channel gave it) of the delivery's messages, for the
    #: live feed. Not in the repr: events are logged, full phones never are.
    senders: tuple[str, ...] = attrs.field(default=(), repr=False)


@attrs.frozen
class StatusChanged(Event):
    """A webhook delivery brought delivery reports; ``applied`` moved a message forward."""

    channel: str
    statuses: int
    applied: int
    #: ``(provider id, status, error code)`` of each report that moved a message forward.
    moved: tuple[tuple[str, str, str | None], ...] = ()


@attrs.frozen
class ReplyQueued(Event):
    """A conversation turn queued its replies in the outbox (committed with the turn)."""

    student_id: int | None
    outbound_ids: tuple[int, ...]
    intent: str | None


@attrs.frozen
class OptedOut(Event):
    student_id: int | None


@attrs.frozen
class OptedIn(Event):
    student_id: int | None


@attrs.frozen
class ConsentGiven(Event):
    """A person authorised the processing of their data (issue 18); ``records`` ledger rows
    (one per child for a guardian)."""

    student_id: int | None
    records: int


@attrs.frozen
class ConsentWithdrawn(Event):
    """A person refused or withdrew their authorisation (REVOCAR also opts them out)."""

    student_id: int | None
    records: int


@attrs.frozen
class HandoffOpened(Event):
    """A student asked for a person: the bot is paused for them."""

    student_id: int


@attrs.frozen
class HandoffReleased(Event):
    """A person gave the conversation back to the bot."""

    student_id: int
    by: str


@attrs.frozen
class ImportLanded(Event):
    """A (not dry-run) import committed. ``kind``: ``students`` or ``progress``;
    ``student_ids``: the students whose data it wrote (when the import knows them)."""

    kind: str
    job_id: int
    student_ids: tuple[int, ...] = ()


@attrs.frozen
class GradesImported(Event):
    """Grades, attendance or enrolments of these students changed (their reports are
    stale)."""

    student_ids: tuple[int, ...]


@attrs.frozen
class HandoffTaken(Event):
    """A person of the school took the conversation (it is now assigned to them)."""

    student_id: int
    by: str


@attrs.frozen
class HandoffAssigned(Event):
    """A person assigned the student's open hand-off to a colleague (``to``)."""

    student_id: int
    to: str
    by: str


@attrs.frozen
class NoteAdded(Event):
    """An internal note was added to the student's conversation (never sent)."""

    student_id: int
    note_id: int
    by: str


@attrs.frozen
class MessagesDispatched(Event):
    """The dispatcher recorded sends: outbound rows now ``sent`` and rows that failed for
    good (retries are not events)."""

    sent: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()


@attrs.frozen
class AlertsQueued(Event):
    """Academic alerts were queued in the outbox (issue 16)."""

    outbound_ids: tuple[int, ...]
