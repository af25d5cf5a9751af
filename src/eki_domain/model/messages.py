"""Messages in and out: what arrived on WhatsApp, what EKI answers, and delivery states."""

from __future__ import annotations

import enum
import re
from datetime import datetime

import attrs

#: WhatsApp's limit for one text message.
MAX_MESSAGE_CHARS = 4096


class MessageType(enum.StrEnum):
    TEXT = "text"
    INTERACTIVE = "interactive"  # button_reply / list_reply
    BUTTON = "button"  # template quick reply
    IMAGE = "image"
    AUDIO = "audio"  # voice notes too
    VIDEO = "video"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    REACTION = "reaction"
    SYSTEM = "system"  # e.g. user_changed_number
    ORDER = "order"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"  # a type EKI has never seen: stored, acknowledged

    @classmethod
    def parse(cls, raw: str | None) -> MessageType:
        try:
            return cls(raw or "unknown")
        except ValueError:
            return cls.UNKNOWN


MEDIA_TYPES = frozenset({MessageType.IMAGE, MessageType.AUDIO, MessageType.VIDEO,
                         MessageType.DOCUMENT, MessageType.STICKER})


@attrs.frozen
class IncomingMessage:
    """One message as a channel delivered it (Meta or Twilio), before EKI handles it.

    ``provider_id`` is the channel's message id (Meta ``wamid``, Twilio ``MessageSid``):
    the inbox keeps one row per id, so redeliveries are ignored.
    """

    channel: str
    provider_id: str
    wa_id: str  # the sender exactly as the channel gave it (reply to it unchanged)
    type: MessageType
    sent_at: datetime
    text: str | None = None  # body, caption, button title or system body
    payload: str | None = None  # button/list reply id or template button payload
    context_id: str | None = None  # the message this one replies to
    profile_name: str | None = None
    media_id: str | None = None
    mime_type: str | None = None
    is_voice: bool = False
    reaction_to: str | None = None
    reaction_emoji: str | None = None
    system_type: str | None = None  # "user_changed_number", …
    new_wa_id: str | None = None
    raw: str = "{}"  # the message's own JSON, kept for the log


@attrs.frozen
class WebhookDelivery:
    """A signed webhook to store: its raw body (the webhook log) and its messages."""

    channel: str
    body: str
    received_at: datetime
    messages: tuple[IncomingMessage, ...] = ()
    note: str | None = None


class DeliveryStatus(enum.StrEnum):
    """Outbound states, in the only order they may advance (``failed`` is terminal)."""

    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def advances_to(self, new: DeliveryStatus) -> bool:
        """Whether a report of ``new`` moves a message in state ``self`` forward.

        Statuses arrive out of order and may skip ``delivered``: ``read`` never goes back
        to ``delivered``; ``failed`` only applies before delivery and is final.
        """
        if self is DeliveryStatus.FAILED or new is self:
            return False
        if new is DeliveryStatus.FAILED:
            return self.rank < DeliveryStatus.DELIVERED.rank
        return new.rank > self.rank


_RANK = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.READ: 4,
    DeliveryStatus.FAILED: 5,
}


class Purpose(enum.StrEnum):
    """Why an outbound message exists (issue #16): the dispatcher sends replies and staff
    messages first and paces the business-initiated ones (broadcasts and alerts)."""

    REPLY = "reply"  # the bot's answer to an inbound message
    STAFF = "staff"  # written by a member of staff (the inbox, the API, `eki send`)
    BROADCAST = "broadcast"  # one recipient of a template broadcast
    ALERT = "alert"  # an academic alert to a family

    @property
    def business_initiated(self) -> bool:
        """Paced at ``EKI_BROADCAST_RATE`` and counted in ``EKI_WHATSAPP_DAILY_LIMIT``."""
        return self in BULK_PURPOSES


#: The purposes sent first, unpaced.
PRIORITY_PURPOSES = (Purpose.REPLY, Purpose.STAFF)
#: The business-initiated purposes: paced, and counted against the daily limit.
BULK_PURPOSES = (Purpose.BROADCAST, Purpose.ALERT)


@attrs.frozen
class StatusReport:
    """A delivery report from the channel about one outbound message."""

    channel: str
    provider_id: str
    status: DeliveryStatus
    at: datetime
    recipient: str | None = None
    error_code: str | None = None
    error_title: str | None = None
    raw: str = "{}"


@attrs.define
class OutboundMessage:
    """A reply waiting to be sent, or its delivery history once sent."""

    to: str
    body: str
    created_at: datetime
    channel: str = "meta"
    student_id: int | None = None
    inbound_id: int | None = None
    reply_to: str | None = None  # provider id of the message answered (WhatsApp context)
    mark_read: str | None = None  # provider id of the inbound message to mark as read
    intent: str | None = None
    tools: tuple[str, ...] = ()
    status: DeliveryStatus = DeliveryStatus.QUEUED
    provider_id: str | None = None
    error_code: str | None = None
    error_title: str | None = None
    attempts: int = 0
    id: int | None = None
    #: Staff messages (the API, ``eki send``): who wrote it (an e-mail or ``cli:…``); None
    #: for the bot's replies.
    author: str | None = None
    #: A template sent instead of free text (``body`` then holds the rendered text).
    template: str | None = None
    template_language: str | None = None
    template_params: tuple[str, ...] = ()
    content_sid: str | None = None  # Twilio's Content SID of the template
    purpose: Purpose = Purpose.REPLY
    #: The broadcast this row sends (one row per recipient: unique with ``to``).
    broadcast_id: int | None = None

    def record_status(self, new: DeliveryStatus, *, error_code: str | None = None,
                      error_title: str | None = None) -> bool:
        """Move forward only (never read → delivered); return whether anything changed."""
        if not self.status.advances_to(new):
            return False
        self.status = new
        if new is DeliveryStatus.FAILED:
            self.error_code, self.error_title = error_code, error_title
        return True


_BOUNDARY = re.compile(r"(?<=[.!?…])[ \t]+|\n+")


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split a long answer into WhatsApp-sized parts: on line or sentence boundaries when
    possible (keeping line breaks), on spaces otherwise, mid-word only as a last resort."""
    text = text.strip()
    if not text:
        return []
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for separator, segment in _segments(text):
        for chunk in _wrap(segment, limit):
            candidate = f"{current}{separator}{chunk}" if current else chunk
            if len(candidate) <= limit:
                current = candidate
            else:
                parts.append(current.rstrip())
                current = chunk
            separator = " "
    if current:
        parts.append(current.rstrip())
    return parts


def _segments(text: str) -> list[tuple[str, str]]:
    """(separator before it, segment) pairs; the first separator is empty."""
    out: list[tuple[str, str]] = []
    position, separator = 0, ""
    for match in _BOUNDARY.finditer(text):
        out.append((separator, text[position : match.start()]))
        separator, position = match.group(), match.end()
    out.append((separator, text[position:]))
    return [(sep, seg) for sep, seg in out if seg]


def _wrap(segment: str, limit: int) -> list[str]:
    chunks: list[str] = []
    while len(segment) > limit:
        cut = segment.rfind(" ", 0, limit + 1)
        if cut <= 0:
            cut = limit
        chunks.append(segment[:cut].rstrip())
        segment = segment[cut:].lstrip()
    if segment:
        chunks.append(segment)
    return chunks


class InboxState(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"  # gave up after repeated errors; visible in the admin log


@attrs.frozen
class InboxItem:
    """A stored inbound message (its inbox row id plus what arrived)."""

    id: int
    message: IncomingMessage
    attempts: int = 0


@attrs.frozen
class ClaimedBatch:
    """Pending messages of one sender, claimed together under a lease: whoever holds
    ``token`` may complete them; after ``lease_until`` another worker may take them."""

    wa_id: str
    items: tuple[InboxItem, ...]
    token: str
    lease_until: datetime


@attrs.frozen
class TurnEnd:
    """A finished turn that writes nothing but its replies: ``batch`` done, ``replies``
    queued (their ids set once stored)."""

    batch: ClaimedBatch
    at: datetime
    student_id: int | None
    intent: str | None
    replies: tuple[OutboundMessage, ...] = ()


@attrs.frozen
class HistoryEntry:
    """One line of a student's conversation, either direction."""

    direction: str  # "in" | "out"
    at: datetime
    text: str | None
    type: str  # message type (in) or "text" (out)
    state: str  # inbox state (in) or delivery status (out)
    provider_id: str | None
    error_code: str | None = None
    intent: str | None = None
