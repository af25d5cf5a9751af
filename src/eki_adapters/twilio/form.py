"""Twilio webhooks (form fields) → domain messages and delivery reports.

One POST carries one thing: an incoming WhatsApp message (``MessageSid``, ``From``,
``WaId``, ``Body``, ``NumMedia``…) or a status callback (``MessageSid`` +
``MessageStatus``). :func:`parse_twilio_webhook` tells them apart, never raises, and
describes whatever it cannot use in ``ignored``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import attrs

from eki_adapters.twilio.address import is_whatsapp_address, wa_id_from_address
from eki_adapters.twilio.errors import HINTS, parse_code
from eki_domain.model.messages import (
    DeliveryStatus,
    IncomingMessage,
    MessageType,
    StatusReport,
)

CHANNEL = "twilio"

#: Twilio ``MessageStatus`` → EKI's monotonic delivery states (``undelivered`` is final).
STATUSES: Mapping[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.SENDING,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
}

#: Twilio's ``MessageType`` field (WhatsApp) → EKI message types.
_TYPES: Mapping[str, MessageType] = {
    "text": MessageType.TEXT,
    "image": MessageType.IMAGE,
    "video": MessageType.VIDEO,
    "audio": MessageType.AUDIO,
    "document": MessageType.DOCUMENT,
    "sticker": MessageType.STICKER,
    "location": MessageType.LOCATION,
    "button": MessageType.BUTTON,
    "interactive": MessageType.INTERACTIVE,
    "contacts": MessageType.CONTACTS,
    "reaction": MessageType.REACTION,
    "unsupported": MessageType.UNSUPPORTED,
}

_INBOUND_STATES = frozenset({"received", "receiving"})


@attrs.frozen
class ParsedTwilioWebhook:
    """Everything usable in one Twilio POST, plus notes about what was not."""

    messages: tuple[IncomingMessage, ...] = ()
    statuses: tuple[StatusReport, ...] = ()
    ignored: tuple[str, ...] = ()


def form_fields(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Name → value (the first value of a repeated name; Twilio never repeats one)."""
    pairs = params.items() if isinstance(params, Mapping) else params
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(str(name), str(value))
    return fields


def parse_twilio_webhook(params: Mapping[str, str] | Iterable[tuple[str, str]], *,
                         now: datetime | None = None) -> ParsedTwilioWebhook:
    """Translate the form fields of one Twilio webhook (inbound message or status).

    ``now`` stamps the message or status (Twilio's webhooks carry no timestamp; default:
    the current UTC time). Never raises on odd input.
    """
    fields = form_fields(params)
    at = now or datetime.now(UTC)
    sid = _get(fields, "MessageSid") or _get(fields, "SmsMessageSid") or _get(fields, "SmsSid")
    if sid is None:
        return ParsedTwilioWebhook(ignored=("no MessageSid: ignored",))
    status = (_get(fields, "MessageStatus") or "").lower()
    if status and status not in _INBOUND_STATES:
        return _status(sid, status, fields, at)
    return _message(sid, fields, at)


def _message(sid: str, fields: Mapping[str, str], at: datetime) -> ParsedTwilioWebhook:
    sender = _get(fields, "From") or ""
    if sender and not is_whatsapp_address(sender):
        return ParsedTwilioWebhook(ignored=(f"{sid}: not a WhatsApp message (From is not "
                                            "whatsapp:…): ignored",))
    wa_id = _get(fields, "WaId") or wa_id_from_address(sender)
    if wa_id is None:
        return ParsedTwilioWebhook(ignored=(f"{sid}: no sender (WaId/From): ignored",))
    notes: list[str] = []
    body = _get(fields, "Body")
    media_count = _count(fields.get("NumMedia"))
    mime = _get(fields, "MediaContentType0")
    raw_type = (_get(fields, "MessageType") or "").lower()
    kind = _TYPES.get(raw_type) if raw_type else None
    if kind is None:
        if raw_type:
            notes.append(f"{sid}: unknown MessageType {raw_type[:40]!r}, inferred from "
                         "the other fields")
        kind = _infer_type(fields, media_count, mime)
    text = body
    payload = None
    if kind is MessageType.BUTTON:
        text = _get(fields, "ButtonText") or body
        payload = _get(fields, "ButtonPayload")
    elif kind is MessageType.INTERACTIVE:
        text = _get(fields, "ListTitle") or _get(fields, "ButtonText") or body
        payload = _get(fields, "ListId") or _get(fields, "ButtonPayload")
    elif kind is MessageType.LOCATION:
        text = _location_text(fields) or body
    elif _get(fields, "ButtonPayload") is not None:
        payload = _get(fields, "ButtonPayload")
    if media_count > 1:
        notes.append(f"{sid}: {media_count} media attached, only the first is recorded")
    is_media = kind in (MessageType.IMAGE, MessageType.VIDEO, MessageType.AUDIO,
                        MessageType.DOCUMENT, MessageType.STICKER)
    message = IncomingMessage(
        channel=CHANNEL,
        provider_id=sid,
        wa_id=wa_id,
        type=kind,
        sent_at=at,
        text=text,
        payload=payload,
        context_id=_get(fields, "OriginalRepliedMessageSid"),
        profile_name=_get(fields, "ProfileName"),
        media_id=_get(fields, "MediaUrl0") if is_media else None,
        mime_type=mime if is_media else None,
        is_voice=kind is MessageType.AUDIO and (mime or "").lower().startswith("audio/ogg"),
        raw=_dump(fields),
    )
    return ParsedTwilioWebhook(messages=(message,), ignored=tuple(notes))


def _status(sid: str, status: str, fields: Mapping[str, str],
            at: datetime) -> ParsedTwilioWebhook:
    mapped = STATUSES.get(status)
    if mapped is None:
        return ParsedTwilioWebhook(ignored=(f"{sid}: status {status[:40]!r} is not handled: "
                                            "ignored",))
    code = parse_code(fields.get("ErrorCode"))
    error_code = str(code) if code is not None else _get(fields, "ErrorCode")
    title = None
    if mapped is DeliveryStatus.FAILED:
        title = _get(fields, "ErrorMessage") or (HINTS.get(code) if code is not None else None)
        if error_code is None:
            error_code = status.upper()  # "FAILED" / "UNDELIVERED" without a code
    recipient = _get(fields, "To")
    report = StatusReport(
        channel=CHANNEL,
        provider_id=sid,
        status=mapped,
        at=at,
        recipient=wa_id_from_address(recipient) if recipient else None,
        error_code=error_code,
        error_title=title,
        raw=_dump(fields),
    )
    return ParsedTwilioWebhook(statuses=(report,))


def _infer_type(fields: Mapping[str, str], media_count: int,
                mime: str | None) -> MessageType:
    if media_count > 0:
        major = (mime or "").split("/", 1)[0].lower()
        if (mime or "").lower() == "image/webp":
            return MessageType.STICKER
        return {"image": MessageType.IMAGE, "video": MessageType.VIDEO,
                "audio": MessageType.AUDIO}.get(major, MessageType.DOCUMENT)
    if _get(fields, "ListId") is not None:
        return MessageType.INTERACTIVE
    if _get(fields, "ButtonPayload") is not None or _get(fields, "ButtonText") is not None:
        return MessageType.BUTTON
    if _get(fields, "Latitude") is not None and _get(fields, "Longitude") is not None:
        return MessageType.LOCATION
    return MessageType.TEXT


def _location_text(fields: Mapping[str, str]) -> str | None:
    latitude, longitude = _get(fields, "Latitude"), _get(fields, "Longitude")
    parts = []
    if latitude is not None and longitude is not None:
        parts.append(f"{latitude},{longitude}")
    parts.extend(p for p in (_get(fields, "Label"), _get(fields, "Address")) if p)
    return " ".join(parts) or None


def _get(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name)
    return value if value else None


def _count(value: str | None) -> int:
    try:
        return max(0, int(value or "0"))
    except ValueError:
        return 0


def _dump(fields: Mapping[str, str]) -> str:
    return json.dumps(dict(fields), ensure_ascii=False)
