"""Realistic Meta webhook payloads, for tests, demos and a local test harness.

Every message/status builder returns a complete webhook (``{"object":
"whatsapp_business_account", "entry": [...]}``) holding one message or status, ready
to be encoded with :func:`encode`, signed with :func:`sign` and POSTed. Combine them:

* :func:`change` merges several payloads into **one** change (one ``value`` with many
  ``messages``/``statuses``/``contacts``), as Meta does when it batches;
* :func:`webhook` puts several payloads/changes side by side in one entry;
* :func:`batch` builds several entries, each from a group of payloads/changes.

Message ids are unique by default (``"wamid.TEST" + uuid hex``). To POST one::

    body = encode(text_message("573001234567", "hola"))
    client.post("/webhooks/whatsapp", content=body, headers=signed_headers(body, APP_SECRET))
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from eki_adapters.whatsapp.signature import compute_meta_signature

Payload = dict[str, Any]
MediaKind = Literal["image", "video", "sticker", "document", "audio"]

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"

_DEFAULT_MIME: Mapping[str, str] = {
    "image": "image/jpeg",
    "video": "video/mp4",
    "sticker": "image/webp",
    "document": "application/pdf",
    "audio": "audio/ogg; codecs=opus",
}


def new_wamid() -> str:
    return "wamid.TEST" + uuid.uuid4().hex


def _ts(timestamp: int | str | None) -> str:
    return str(int(time.time()) if timestamp is None else timestamp)


def _metadata() -> Payload:
    return {"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": PHONE_NUMBER_ID}


def _envelope(value: Payload, *, field: str = "messages") -> Payload:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": field, "value": value}]}],
    }


def _message(
    wa_id: str | None,
    kind: str,
    content: Payload,
    *,
    wamid: str | None,
    name: str | None,
    timestamp: int | str | None,
    context_id: str | None,
    user_id: str | None,
    with_contacts: bool = True,
) -> Payload:
    message: Payload = {}
    if wa_id is not None:
        message["from"] = wa_id
    if user_id is not None:
        message["user_id"] = user_id
    message.update({"id": wamid or new_wamid(), "timestamp": _ts(timestamp), "type": kind})
    if context_id is not None:
        message["context"] = {"from": DISPLAY_PHONE_NUMBER, "id": context_id}
    message.update(content)
    value: Payload = {"messaging_product": "whatsapp", "metadata": _metadata()}
    if with_contacts:
        contact: Payload = {"profile": {"name": name} if name is not None else {}}
        if wa_id is not None:
            contact["wa_id"] = wa_id
        if user_id is not None:
            contact["user_id"] = user_id
        value["contacts"] = [contact]
    value["messages"] = [message]
    return _envelope(value)


# -- messages -----------------------------------------------------------------------------


def text_message(
    wa_id: str | None,
    body: str,
    *,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
    context_id: str | None = None,
    user_id: str | None = None,
) -> Payload:
    """A text message. ``wa_id=None`` with ``user_id`` mimics a username-only sender."""
    return _message(wa_id, "text", {"text": {"body": body}}, wamid=wamid, name=name,
                    timestamp=timestamp, context_id=context_id, user_id=user_id)


def interactive_reply(
    wa_id: str,
    reply_id: str,
    title: str,
    *,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
    context_id: str | None = None,
    user_id: str | None = None,
) -> Payload:
    """A tap on an interactive reply button (``interactive.button_reply``)."""
    content = {"interactive": {"type": "button_reply",
                               "button_reply": {"id": reply_id, "title": title}}}
    return _message(wa_id, "interactive", content, wamid=wamid, name=name, timestamp=timestamp,
                    context_id=context_id or new_wamid(), user_id=user_id)


def list_reply(
    wa_id: str,
    reply_id: str,
    title: str,
    description: str | None = None,
    *,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
    context_id: str | None = None,
    user_id: str | None = None,
) -> Payload:
    """A choice from an interactive list (``interactive.list_reply``)."""
    reply: Payload = {"id": reply_id, "title": title}
    if description is not None:
        reply["description"] = description
    content = {"interactive": {"type": "list_reply", "list_reply": reply}}
    return _message(wa_id, "interactive", content, wamid=wamid, name=name, timestamp=timestamp,
                    context_id=context_id or new_wamid(), user_id=user_id)


def button_reply(
    wa_id: str,
    payload: str,
    text: str,
    *,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
    context_id: str | None = None,
    user_id: str | None = None,
) -> Payload:
    """A template quick-reply button (``type: "button"``)."""
    content = {"button": {"payload": payload, "text": text}}
    return _message(wa_id, "button", content, wamid=wamid, name=name, timestamp=timestamp,
                    context_id=context_id or new_wamid(), user_id=user_id)


def media_message(
    kind: MediaKind,
    wa_id: str,
    media_id: str | None = None,
    *,
    mime_type: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
    voice: bool = False,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
    context_id: str | None = None,
    user_id: str | None = None,
) -> Payload:
    """An image, video, sticker, document or audio (``voice=True``: a voice note)."""
    media: Payload = {
        "id": media_id or uuid.uuid4().hex[:16],
        "mime_type": mime_type or _DEFAULT_MIME[kind],
        "sha256": uuid.uuid4().hex,
    }
    if caption is not None:
        media["caption"] = caption
    if filename is not None:
        media["filename"] = filename
    if kind == "audio":
        media["voice"] = voice
    if kind == "sticker":
        media["animated"] = False
    return _message(wa_id, kind, {kind: media}, wamid=wamid, name=name, timestamp=timestamp,
                    context_id=context_id, user_id=user_id)


def location_message(
    wa_id: str,
    latitude: float,
    longitude: float,
    *,
    location_name: str | None = None,
    address: str | None = None,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
    user_id: str | None = None,
) -> Payload:
    location: Payload = {"latitude": latitude, "longitude": longitude}
    if location_name is not None:
        location["name"] = location_name
    if address is not None:
        location["address"] = address
    return _message(wa_id, "location", {"location": location}, wamid=wamid, name=name,
                    timestamp=timestamp, context_id=None, user_id=user_id)


def reaction_message(
    wa_id: str,
    message_id: str,
    emoji: str | None = "👍",
    *,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
    user_id: str | None = None,
) -> Payload:
    """A reaction to ``message_id``; ``emoji=None`` is a removed reaction (no emoji key)."""
    reaction: Payload = {"message_id": message_id}
    if emoji is not None:
        reaction["emoji"] = emoji
    return _message(wa_id, "reaction", {"reaction": reaction}, wamid=wamid, name=name,
                    timestamp=timestamp, context_id=None, user_id=user_id)


def contacts_message(
    wa_id: str,
    shared: Sequence[tuple[str, str]] = (("Profe Marta", "+57 300 765 4321"),),
    *,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
    user_id: str | None = None,
) -> Payload:
    """Shared contact cards, given as ``(formatted name, phone)`` pairs."""
    cards = [
        {
            "name": {"formatted_name": card_name, "first_name": card_name.split(" ")[0]},
            "phones": [{"phone": phone, "type": "CELL",
                        "wa_id": "".join(ch for ch in phone if ch.isdigit())}],
        }
        for card_name, phone in shared
    ]
    return _message(wa_id, "contacts", {"contacts": cards}, wamid=wamid, name=name,
                    timestamp=timestamp, context_id=None, user_id=user_id)


def user_changed_number(
    old_wa_id: str,
    new_wa_id: str,
    *,
    wamid: str | None = None,
    timestamp: int | str | None = None,
) -> Payload:
    """The system message sent when a user changes number (no ``contacts`` array)."""
    system = {
        "body": f"User A changed from {old_wa_id} to {new_wa_id}",
        "wa_id": new_wa_id,
        "type": "user_changed_number",
    }
    return _message(old_wa_id, "system", {"system": system}, wamid=wamid, name=None,
                    timestamp=timestamp, context_id=None, user_id=None, with_contacts=False)


def unsupported_message(
    wa_id: str,
    *,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
) -> Payload:
    """A message type the Cloud API does not support (error 131051)."""
    errors = [{
        "code": 131051,
        "title": "Message type unknown",
        "message": "Message type unknown",
        "error_data": {"details": "Message type is currently not supported."},
    }]
    return _message(wa_id, "unsupported", {"errors": errors}, wamid=wamid, name=name,
                    timestamp=timestamp, context_id=None, user_id=None)


def custom_message(
    wa_id: str,
    kind: str,
    content: Mapping[str, Any] | None = None,
    *,
    wamid: str | None = None,
    name: str | None = "Ana",
    timestamp: int | str | None = None,
) -> Payload:
    """A message of any ``type`` (e.g. one EKI has never seen) with the given fields."""
    return _message(wa_id, kind, dict(content or {}), wamid=wamid, name=name,
                    timestamp=timestamp, context_id=None, user_id=None)


# -- statuses -----------------------------------------------------------------------------


def status_update(
    wamid: str,
    status: str,
    recipient: str,
    *,
    error_code: int | None = None,
    error_title: str | None = None,
    timestamp: int | str | None = None,
) -> Payload:
    """A delivery report (``sent``/``delivered``/``read``/``failed`` or anything else)."""
    item: Payload = {"id": wamid, "status": status, "timestamp": _ts(timestamp),
                     "recipient_id": recipient}
    if status in ("sent", "delivered", "read"):
        item["pricing"] = {"billable": False, "pricing_model": "PMP", "category": "service",
                           "type": "free_customer_service"}
    if error_code is not None or status == "failed":
        code = error_code if error_code is not None else 131026
        title = error_title or ("Re-engagement message" if code == 131047
                                else "Message undeliverable")
        item["errors"] = [{"code": code, "title": title, "message": title,
                           "error_data": {"details": title}}]
    return _envelope({"messaging_product": "whatsapp", "metadata": _metadata(),
                      "statuses": [item]})


# -- other fields ---------------------------------------------------------------------------


def field_change(field: str, value: Mapping[str, Any] | None = None) -> Payload:
    """A change of another subscribed ``field`` (e.g. ``account_update``) as a payload."""
    return _envelope(dict(value or {"event": "VERIFIED_ACCOUNT"}), field=field)


# -- combining ------------------------------------------------------------------------------


def _changes_of(part: Mapping[str, Any]) -> list[Payload]:
    """The changes of a full payload, or ``[part]`` if it is already a change."""
    if "entry" in part:
        return [copy.deepcopy(c) for entry in part["entry"] for c in entry["changes"]]
    return [copy.deepcopy(dict(part))]


def change(*parts: Mapping[str, Any]) -> Payload:
    """One ``messages`` change holding every message, status and contact of ``parts``."""
    value: Payload = {"messaging_product": "whatsapp", "metadata": _metadata()}
    contacts: list[Payload] = []
    seen: set[str] = set()
    for part in parts:
        for item in _changes_of(part):
            part_value = item.get("value", {})
            for contact in part_value.get("contacts", []):
                key = contact.get("wa_id") or contact.get("user_id") or ""
                if key not in seen:
                    seen.add(key)
                    contacts.append(contact)
            for key in ("messages", "statuses"):
                value.setdefault(key, []).extend(part_value.get(key, []))
    if contacts:
        value["contacts"] = contacts
    return {"field": "messages", "value": value}


def webhook(*parts: Mapping[str, Any]) -> Payload:
    """One payload, one entry, with the changes of every part side by side."""
    changes = [c for part in parts for c in _changes_of(part)]
    return {"object": "whatsapp_business_account",
            "entry": [{"id": WABA_ID, "changes": changes}]}


def batch(*entries: Mapping[str, Any] | Iterable[Mapping[str, Any]]) -> Payload:
    """One payload with one entry per argument; an argument is a part or a group of parts."""
    built = []
    for group in entries:
        parts = [group] if isinstance(group, Mapping) else list(group)
        built.append({"id": WABA_ID, "changes": [c for p in parts for c in _changes_of(p)]})
    return {"object": "whatsapp_business_account", "entry": built}


def messages_of(payload: Mapping[str, Any]) -> list[Payload]:
    """Every message object in a payload built here (handy in assertions)."""
    return [m for c in _changes_of(payload) for m in c.get("value", {}).get("messages", [])]


def wamid_of(payload: Mapping[str, Any]) -> str:
    """The id of the only message (or status) of a single-item payload."""
    value = _changes_of(payload)[0]["value"]
    items = value.get("messages") or value.get("statuses")
    return str(items[0]["id"])


# -- wire format -----------------------------------------------------------------------------


def encode(payload: Mapping[str, Any]) -> bytes:
    """Bytes as Meta sends them: compact JSON with non-ASCII escaped (``\\u00e9``)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` header value for ``body``."""
    return compute_meta_signature(body, app_secret)


def signed_headers(body: bytes, app_secret: str) -> dict[str, str]:
    """The headers Meta sends with ``body``: JSON content type and a valid signature."""
    return {"Content-Type": "application/json",
            "X-Hub-Signature-256": sign(body, app_secret)}


def failed_status(wamid: str, recipient: str, code: int = 131047,
                  title: str | None = None) -> Payload:
    """A ``failed`` delivery report carrying Meta's error ``code``."""
    return status_update(wamid, "failed", recipient, error_code=code, error_title=title)
