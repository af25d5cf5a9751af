"""Meta WhatsApp Cloud API webhooks → domain messages and delivery reports.

``parse_meta_webhook`` reads **every** entry, change, message and status of one POST
(Meta batches them) and never raises: whatever it cannot use is described in
``ParsedWebhook.ignored`` so the caller can log it next to the raw payload it stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from eki_domain.model.messages import (
    MEDIA_TYPES,
    DeliveryStatus,
    IncomingMessage,
    MessageType,
    StatusReport,
)

CHANNEL = "meta"
WEBHOOK_OBJECT = "whatsapp_business_account"

_STATUSES: Mapping[str, DeliveryStatus] = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}


@attrs.frozen
class ParsedWebhook:
    """Everything usable in one webhook POST, plus notes about what was not."""

    messages: tuple[IncomingMessage, ...] = ()
    statuses: tuple[StatusReport, ...] = ()
    ignored: tuple[str, ...] = ()


def parse_meta_webhook(payload: object, *, now: datetime | None = None) -> ParsedWebhook:
    """Translate a decoded Meta webhook body (``json.loads`` of the raw bytes).

    ``now`` is the fallback for missing or unreadable timestamps (default: the current
    UTC time). Never raises on odd input.
    """
    parser = _Parser(now or datetime.now(UTC))
    parser.parse(payload)
    return ParsedWebhook(
        messages=tuple(parser.messages),
        statuses=tuple(parser.statuses),
        ignored=tuple(parser.ignored),
    )


class _Parser:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.messages: list[IncomingMessage] = []
        self.statuses: list[StatusReport] = []
        self.ignored: list[str] = []

    # -- structure -------------------------------------------------------------------

    def parse(self, payload: object) -> None:
        if not isinstance(payload, dict):
            self.ignored.append(f"payload is {_a(payload)}, not an object: ignored")
            return
        obj = payload.get("object")
        if obj != WEBHOOK_OBJECT:
            self.ignored.append(f"payload object is {_short(obj)}, not {WEBHOOK_OBJECT!r}: "
                                "ignored")
            return
        entries = payload.get("entry")
        if not isinstance(entries, list):
            self.ignored.append(f"payload 'entry' is {_a(entries)}, not a list: ignored")
            return
        if not entries:
            self.ignored.append("payload has no entries")
        for e, entry in enumerate(entries):
            self._entry(f"entry[{e}]", entry)

    def _entry(self, where: str, entry: object) -> None:
        if not isinstance(entry, dict):
            self.ignored.append(f"{where} is {_a(entry)}, not an object: ignored")
            return
        changes = entry.get("changes")
        if not isinstance(changes, list) or not changes:
            self.ignored.append(f"{where} has no list of changes: ignored")
            return
        for c, change in enumerate(changes):
            self._change(f"{where}.changes[{c}]", change)

    def _change(self, where: str, change: object) -> None:
        if not isinstance(change, dict):
            self.ignored.append(f"{where} is {_a(change)}, not an object: ignored")
            return
        field = change.get("field")
        if field != "messages":
            self.ignored.append(f"{where}: field {_short(field)} is not handled: ignored")
            return
        value = change.get("value")
        if not isinstance(value, dict):
            self.ignored.append(f"{where}.value is {_a(value)}, not an object: ignored")
            return
        errors = value.get("errors")
        if isinstance(errors, list) and errors:
            self.ignored.append(f"{where}.value.errors: {_describe_errors(errors)}")
        names = _profile_names(value.get("contacts"))
        messages = value.get("messages")
        statuses = value.get("statuses")
        found = False
        if isinstance(messages, list):
            found = found or bool(messages)
            for m, message in enumerate(messages):
                self._message(f"{where}.messages[{m}]", message, names)
        elif messages is not None:
            self.ignored.append(f"{where}.value.messages is {_a(messages)}, not a list")
        if isinstance(statuses, list):
            found = found or bool(statuses)
            for s, status in enumerate(statuses):
                self._status(f"{where}.statuses[{s}]", status)
        elif statuses is not None:
            self.ignored.append(f"{where}.value.statuses is {_a(statuses)}, not a list")
        if not found:
            self.ignored.append(f"{where}: no messages or statuses")

    # -- messages --------------------------------------------------------------------

    def _message(self, where: str, message: object, names: Mapping[str, str]) -> None:
        if not isinstance(message, dict):
            self.ignored.append(f"{where} is {_a(message)}, not an object: ignored")
            return
        provider_id = _str(message, "id")
        if provider_id is None:
            self.ignored.append(f"{where} has no id: ignored")
            return
        sender = _str(message, "from") or _str(message, "from_user_id") or _str(message, "user_id")
        if sender is None:
            self.ignored.append(f"{where} ({provider_id}) has no sender (from/user_id): ignored")
            return
        raw_type = message.get("type")
        kind = MessageType.parse(raw_type if isinstance(raw_type, str) else None)
        fields: dict[str, Any] = {}
        if kind is MessageType.TEXT:
            fields["text"] = _str(_dict(message, "text"), "body")
        elif kind is MessageType.INTERACTIVE:
            fields.update(_interactive(_dict(message, "interactive")))
        elif kind is MessageType.BUTTON:
            button = _dict(message, "button")
            fields["text"] = _str(button, "text")
            fields["payload"] = _str(button, "payload")
        elif kind in MEDIA_TYPES:
            media = _dict(message, kind.value)
            fields["media_id"] = _str(media, "id")
            fields["mime_type"] = _str(media, "mime_type")
            fields["text"] = _str(media, "caption")
            fields["is_voice"] = media.get("voice") is True
        elif kind is MessageType.LOCATION:
            fields["text"] = _location_text(_dict(message, "location"))
        elif kind is MessageType.CONTACTS:
            fields["text"] = _contacts_text(message.get("contacts"))
        elif kind is MessageType.REACTION:
            reaction = _dict(message, "reaction")
            fields["reaction_to"] = _str(reaction, "message_id")
            fields["reaction_emoji"] = _str(reaction, "emoji")
        elif kind is MessageType.SYSTEM:
            system = _dict(message, "system")
            fields["text"] = _str(system, "body")
            fields["system_type"] = _str(system, "type")
            fields["new_wa_id"] = _str(system, "new_wa_id") or _str(system, "wa_id")
        elif kind is MessageType.UNKNOWN:
            self.ignored.append(f"{where} ({provider_id}): unknown type {_short(raw_type)}, "
                                "kept as 'unknown'")
        self.messages.append(IncomingMessage(
            channel=CHANNEL,
            provider_id=provider_id,
            wa_id=sender,
            type=kind,
            sent_at=_timestamp(message.get("timestamp"), self.now),
            context_id=_str(_dict(message, "context"), "id"),
            profile_name=names.get(sender),
            raw=_dump(message),
            **fields,
        ))

    # -- statuses --------------------------------------------------------------------

    def _status(self, where: str, status: object) -> None:
        if not isinstance(status, dict):
            self.ignored.append(f"{where} is {_a(status)}, not an object: ignored")
            return
        provider_id = _str(status, "id")
        if provider_id is None:
            self.ignored.append(f"{where} has no id: ignored")
            return
        raw_status = status.get("status")
        mapped = _STATUSES.get(raw_status) if isinstance(raw_status, str) else None
        if mapped is None:
            self.ignored.append(f"{where} ({provider_id}): status {_short(raw_status)} "
                                "is not handled: ignored")
            return
        error_code, error_title = _first_error(status.get("errors"))
        self.statuses.append(StatusReport(
            channel=CHANNEL,
            provider_id=provider_id,
            status=mapped,
            at=_timestamp(status.get("timestamp"), self.now),
            recipient=_str(status, "recipient_id") or _str(status, "recipient_user_id"),
            error_code=error_code,
            error_title=error_title,
            raw=_dump(status),
        ))


# -- small total functions over untrusted JSON -----------------------------------------


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "object", list: "list", str: "string", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _a(value: object) -> str:
    kind = _kind(value)
    if kind == "null":
        return kind
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _short(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _dict(container: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = container.get(key)
    return value if isinstance(value, dict) else {}


def _str(container: Mapping[str, Any], key: str) -> str | None:
    """A non-empty string (numbers are accepted and converted), else ``None``."""
    value = container.get(key)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value:
        return value
    return None


def _timestamp(value: object, fallback: datetime) -> datetime:
    """Unix seconds (string or number) → aware UTC datetime; ``fallback`` if unreadable."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return fallback
    try:
        seconds = float(value)
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return fallback


def _dump(obj: object) -> str:
    try:
        return json.dumps(obj, ensure_ascii=False)
    except (TypeError, ValueError):  # pragma: no cover - decoded JSON always serialises
        return "{}"


def _profile_names(contacts: object) -> dict[str, str]:
    """wa_id (and business-scoped user_id) → profile name."""
    names: dict[str, str] = {}
    if not isinstance(contacts, list):
        return names
    for contact in contacts:
        if not isinstance(contact, dict):
            continue
        name = _str(_dict(contact, "profile"), "name")
        if name is None:
            continue
        for key in ("wa_id", "user_id"):
            identifier = _str(contact, key)
            if identifier is not None:
                names.setdefault(identifier, name)
    return names


def _interactive(interactive: Mapping[str, Any]) -> dict[str, Any]:
    for key in ("button_reply", "list_reply"):
        reply = interactive.get(key)
        if isinstance(reply, dict):
            return {"text": _str(reply, "title"), "payload": _str(reply, "id")}
    flow = interactive.get("nfm_reply")  # WhatsApp Flows answer
    if isinstance(flow, dict):
        return {"text": _str(flow, "body"), "payload": _str(flow, "response_json")}
    return {}


def _location_text(location: Mapping[str, Any]) -> str | None:
    latitude, longitude = _str(location, "latitude"), _str(location, "longitude")
    parts = []
    if latitude is not None and longitude is not None:
        parts.append(f"{latitude},{longitude}")
    parts.extend(p for p in (_str(location, "name"), _str(location, "address")) if p)
    return " ".join(parts) or None


def _contacts_text(contacts: object) -> str | None:
    if not isinstance(contacts, list):
        return None
    shared = []
    for contact in contacts:
        if not isinstance(contact, dict):
            continue
        name = _str(_dict(contact, "name"), "formatted_name")
        phones = contact.get("phones")
        numbers = [
            number
            for phone in (phones if isinstance(phones, list) else [])
            if isinstance(phone, dict) and (number := _str(phone, "phone") or _str(phone, "wa_id"))
        ]
        text = " ".join(p for p in (name, ", ".join(numbers)) if p)
        if text:
            shared.append(text)
    return "; ".join(shared) or None


def _first_error(errors: object) -> tuple[str | None, str | None]:
    if not isinstance(errors, list):
        return None, None
    for error in errors:
        if isinstance(error, dict):
            return _str(error, "code"), _str(error, "title") or _str(error, "message")
    return None, None


def _describe_errors(errors: list[Any]) -> str:
    described = []
    for error in errors[:5]:
        code, title = _first_error([error])
        described.append(f"{code or '?'} {title or ''}".strip())
    return "; ".join(described)
