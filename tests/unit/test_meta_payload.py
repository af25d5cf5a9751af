"""Meta webhooks → domain messages/statuses, and the webhook signature."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from eki_adapters.whatsapp import (
    ParsedWebhook,
    mask_phone,
    parse_meta_webhook,
    verify_meta_signature,
)
from eki_domain.model.messages import DeliveryStatus, IncomingMessage, MessageType
from eki_testing import meta as p

WA = "573001234567"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def only_message(payload: object) -> IncomingMessage:
    parsed = parse_meta_webhook(payload, now=NOW)
    assert parsed.statuses == ()
    assert len(parsed.messages) == 1, parsed.ignored
    return parsed.messages[0]


# -- message types ------------------------------------------------------------------------


def test_text_message_keeps_every_field() -> None:
    payload = p.text_message(WA, "Hola, ¿cómo voy en matemáticas?", wamid="wamid.A1",
                             name="Ana Pérez", timestamp="1767225600", context_id="wamid.PREV")
    message = only_message(payload)
    assert message == IncomingMessage(
        channel="meta",
        provider_id="wamid.A1",
        wa_id=WA,
        type=MessageType.TEXT,
        sent_at=datetime(2026, 1, 1, tzinfo=UTC),
        text="Hola, ¿cómo voy en matemáticas?",
        context_id="wamid.PREV",
        profile_name="Ana Pérez",
        raw=message.raw,
    )
    assert message.sent_at.tzinfo is not None
    raw = json.loads(message.raw)
    assert raw == p.messages_of(payload)[0]
    assert "¿cómo" in message.raw  # ensure_ascii=False: readable in the log


def test_interactive_button_reply() -> None:
    message = only_message(p.interactive_reply(WA, "opt_notas", "Mis notas",
                                               context_id="wamid.MENU"))
    assert message.type is MessageType.INTERACTIVE
    assert (message.text, message.payload, message.context_id) == (
        "Mis notas", "opt_notas", "wamid.MENU")


def test_interactive_list_reply() -> None:
    message = only_message(p.list_reply(WA, "row_math", "Matemáticas", "Periodo 1"))
    assert message.type is MessageType.INTERACTIVE
    assert (message.text, message.payload) == ("Matemáticas", "row_math")


def test_template_quick_reply_button() -> None:
    message = only_message(p.button_reply(WA, "STOP_PROMOS", "Detener"))
    assert message.type is MessageType.BUTTON
    assert (message.text, message.payload) == ("Detener", "STOP_PROMOS")
    assert message.context_id is not None


@pytest.mark.parametrize("kind", ["image", "video", "sticker", "document"])
def test_media_messages(kind: Any) -> None:
    message = only_message(p.media_message(kind, WA, "MEDIA1", mime_type="x/y",
                                           caption="mi tarea"))
    assert message.type is MessageType(kind)
    assert (message.media_id, message.mime_type, message.text) == ("MEDIA1", "x/y", "mi tarea")
    assert message.is_voice is False


def test_media_without_caption_has_no_text() -> None:
    message = only_message(p.media_message("document", WA, "DOC1", filename="tarea.pdf"))
    assert message.type is MessageType.DOCUMENT
    assert message.text is None
    assert message.mime_type == "application/pdf"


def test_voice_note_and_plain_audio() -> None:
    voice = only_message(p.media_message("audio", WA, "AUD1", voice=True))
    assert (voice.type, voice.is_voice, voice.media_id) == (MessageType.AUDIO, True, "AUD1")
    assert voice.mime_type == "audio/ogg; codecs=opus"
    audio = only_message(p.media_message("audio", WA, "AUD2"))
    assert audio.is_voice is False


def test_location() -> None:
    message = only_message(p.location_message(WA, 4.60971, -74.08175,
                                              location_name="Colegio", address="Cra 7 # 1"))
    assert message.type is MessageType.LOCATION
    assert message.text == "4.60971,-74.08175 Colegio Cra 7 # 1"
    bare = only_message(p.location_message(WA, 4.5, -74.0))
    assert bare.text == "4.5,-74.0"


def test_shared_contacts() -> None:
    message = only_message(p.contacts_message(WA, [("Profe Marta", "+57 300 765 4321")]))
    assert message.type is MessageType.CONTACTS
    assert message.text == "Profe Marta +57 300 765 4321"
    assert message.profile_name == "Ana"  # the sender's contact, not the shared card


def test_reaction_and_removed_reaction() -> None:
    added = only_message(p.reaction_message(WA, "wamid.OURS", "❤️"))
    assert added.type is MessageType.REACTION
    assert (added.reaction_to, added.reaction_emoji, added.text) == ("wamid.OURS", "❤️", None)
    removed = only_message(p.reaction_message(WA, "wamid.OURS", None))
    assert (removed.reaction_to, removed.reaction_emoji) == ("wamid.OURS", None)


def test_user_changed_number_system_message() -> None:
    payload = p.user_changed_number("573001234567", "573009998888")
    assert "contacts" not in payload["entry"][0]["changes"][0]["value"]
    message = only_message(payload)
    assert message.type is MessageType.SYSTEM
    assert message.wa_id == "573001234567"
    assert message.system_type == "user_changed_number"
    assert message.new_wa_id == "573009998888"
    assert message.text == "User A changed from 573001234567 to 573009998888"
    assert message.profile_name is None


def test_older_system_message_with_new_wa_id() -> None:
    payload = p.user_changed_number("573001234567", "573009998888")
    system = p.messages_of(payload)[0]["system"]
    del system["wa_id"]
    system["new_wa_id"] = "573009998888"
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["system"] = system
    assert only_message(payload).new_wa_id == "573009998888"


def test_unsupported_message() -> None:
    message = only_message(p.unsupported_message(WA))
    assert message.type is MessageType.UNSUPPORTED
    assert json.loads(message.raw)["errors"][0]["code"] == 131051


def test_unknown_type_is_kept_and_noted() -> None:
    parsed = parse_meta_webhook(p.custom_message(WA, "hologram", {"hologram": {"x": 1}}))
    assert [m.type for m in parsed.messages] == [MessageType.UNKNOWN]
    assert any("hologram" in note for note in parsed.ignored)
    missing_type = p.text_message(WA, "x")
    del missing_type["entry"][0]["changes"][0]["value"]["messages"][0]["type"]
    assert only_message(missing_type).type is MessageType.UNKNOWN


def test_order_type_known_to_the_domain() -> None:
    message = only_message(p.custom_message(WA, "order", {"order": {"catalog_id": "1"}}))
    assert message.type is MessageType.ORDER


def test_user_id_only_sender() -> None:
    payload = p.text_message(None, "hola", user_id="CO.1234567890", name="Bea")
    message = only_message(payload)
    assert message.wa_id == "CO.1234567890"
    assert message.profile_name == "Bea"


def test_from_wins_over_user_id() -> None:
    message = only_message(p.text_message(WA, "hola", user_id="CO.999"))
    assert message.wa_id == WA


def test_message_without_any_sender_is_skipped_with_a_note() -> None:
    payload = p.text_message(None, "hola", wamid="wamid.NOSENDER")
    parsed = parse_meta_webhook(payload)
    assert parsed.messages == ()
    assert any("wamid.NOSENDER" in note and "sender" in note for note in parsed.ignored)


def test_timestamps() -> None:
    assert only_message(p.text_message(WA, "x", timestamp=1767225600)).sent_at == datetime(
        2026, 1, 1, tzinfo=UTC)
    for bad in ("yesterday", "", "1e400", "nan"):
        assert only_message(p.text_message(WA, "x", timestamp=bad)).sent_at == NOW
    missing = p.text_message(WA, "x")
    del missing["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"]
    assert only_message(missing).sent_at == NOW
    before = datetime.now(UTC)
    assert parse_meta_webhook(missing).messages[0].sent_at >= before  # default: now


# -- batches and contacts -----------------------------------------------------------------


def test_batch_of_two_entries_with_two_changes_each_loses_nothing() -> None:
    people = {f"57300000000{i}": f"Estudiante {i}" for i in range(8)}
    texts = [p.text_message(wa, f"mensaje {i}", name=name)
             for i, (wa, name) in enumerate(people.items())]
    statuses = [p.status_update(f"wamid.OUT{i}", "delivered", "573111111111") for i in range(4)]
    payload = p.batch(
        [p.change(texts[0], texts[1], statuses[0]), p.change(texts[2], texts[3])],
        [p.change(texts[4], statuses[1], texts[5]),
         p.change(texts[6], texts[7], statuses[2], statuses[3])],
    )
    assert len(payload["entry"]) == 2
    assert all(len(entry["changes"]) == 2 for entry in payload["entry"])
    parsed = parse_meta_webhook(payload)
    assert [m.text for m in parsed.messages] == [f"mensaje {i}" for i in range(8)]
    assert {m.wa_id: m.profile_name for m in parsed.messages} == people
    assert [s.provider_id for s in parsed.statuses] == [
        "wamid.OUT0", "wamid.OUT1", "wamid.OUT2", "wamid.OUT3"]
    assert parsed.ignored == ()


def test_webhook_puts_changes_side_by_side() -> None:
    payload = p.webhook(p.text_message(WA, "a"), p.status_update("wamid.X", "sent", WA))
    assert len(payload["entry"]) == 1
    assert len(payload["entry"][0]["changes"]) == 2
    parsed = parse_meta_webhook(payload)
    assert (len(parsed.messages), len(parsed.statuses)) == (1, 1)


def test_contacts_are_matched_by_wa_id_not_by_position() -> None:
    payload = p.webhook(p.change(p.text_message("573000000001", "uno", name="Uno"),
                                 p.text_message("573000000002", "dos", name="Dos")))
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"].reverse()
    value["contacts"].append({"profile": {"name": "Nadie"}, "wa_id": "573000000099"})
    parsed = parse_meta_webhook(payload)
    assert [(m.text, m.profile_name) for m in parsed.messages] == [("uno", "Uno"), ("dos", "Dos")]


def test_message_without_matching_contact_has_no_profile_name() -> None:
    payload = p.text_message(WA, "hola")
    payload["entry"][0]["changes"][0]["value"]["contacts"] = [
        {"profile": {"name": "Otro"}, "wa_id": "573000000000"}]
    assert only_message(payload).profile_name is None


# -- statuses -----------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "status"), [
    ("sent", DeliveryStatus.SENT),
    ("delivered", DeliveryStatus.DELIVERED),
    ("read", DeliveryStatus.READ),
])
def test_statuses(raw: str, status: DeliveryStatus) -> None:
    parsed = parse_meta_webhook(p.status_update("wamid.OUT", raw, WA, timestamp=1767225600))
    assert parsed.messages == ()
    (report,) = parsed.statuses
    assert report.channel == "meta"
    assert (report.provider_id, report.status, report.recipient) == ("wamid.OUT", status, WA)
    assert report.at == datetime(2026, 1, 1, tzinfo=UTC)
    assert (report.error_code, report.error_title) == (None, None)
    assert json.loads(report.raw)["status"] == raw


def test_failed_status_carries_the_error_code_as_text() -> None:
    parsed = parse_meta_webhook(p.status_update("wamid.OUT", "failed", WA, error_code=131047))
    (report,) = parsed.statuses
    assert report.status is DeliveryStatus.FAILED
    assert (report.error_code, report.error_title) == ("131047", "Re-engagement message")


def test_failed_status_builder_defaults_to_the_closed_window() -> None:
    (report,) = parse_meta_webhook(p.failed_status("wamid.OUT", WA)).statuses
    assert (report.status, report.error_code) == (DeliveryStatus.FAILED, "131047")
    (other,) = parse_meta_webhook(p.failed_status("wamid.OUT", WA, 131026)).statuses
    assert (other.error_code, other.error_title) == ("131026", "Message undeliverable")


@pytest.mark.parametrize("raw", ["deleted", "warning", "", None, 7])
def test_unknown_statuses_are_noted_not_fatal(raw: Any) -> None:
    payload = p.status_update("wamid.OUT", "sent", WA)
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = raw
    parsed = parse_meta_webhook(payload)
    assert parsed.statuses == ()
    assert any("wamid.OUT" in note for note in parsed.ignored)


def test_bsuid_status_recipient() -> None:
    payload = p.status_update("wamid.OUT", "read", WA)
    item = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    del item["recipient_id"]
    item["recipient_user_id"] = "CO.42"
    assert parse_meta_webhook(payload).statuses[0].recipient == "CO.42"


# -- what is ignored ----------------------------------------------------------------------


def test_unknown_field_is_ignored_with_a_note() -> None:
    payload = p.webhook(p.field_change("account_update"), p.text_message(WA, "sigue"))
    parsed = parse_meta_webhook(payload)
    assert [m.text for m in parsed.messages] == ["sigue"]
    assert len(parsed.ignored) == 1
    assert "account_update" in parsed.ignored[0]
    assert "changes[0]" in parsed.ignored[0]


def test_change_without_messages_or_statuses_is_noted() -> None:
    payload = p.text_message(WA, "x")
    value = payload["entry"][0]["changes"][0]["value"]
    del value["messages"]
    value["errors"] = [{"code": 131000, "title": "Something went wrong"}]
    parsed = parse_meta_webhook(payload)
    assert parsed.messages == ()
    assert any("131000" in note for note in parsed.ignored)
    assert any("no messages or statuses" in note for note in parsed.ignored)


@pytest.mark.parametrize("payload", [
    None, 1, "texto", [], [{}], {}, {"object": "page", "entry": []},
    {"object": "whatsapp_business_account"},
    {"object": "whatsapp_business_account", "entry": None},
    {"object": "whatsapp_business_account", "entry": {}},
    {"object": "whatsapp_business_account", "entry": []},
    {"object": "whatsapp_business_account", "entry": [None, 3, "x", [], {}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": None}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [None, 1, [], {}]}]},
    {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]},
    {"object": "whatsapp_business_account",
     "entry": [{"changes": [{"field": "messages", "value": []}]}]},
    {"object": "whatsapp_business_account",
     "entry": [{"changes": [{"field": None, "value": {"messages": [{}]}}]}]},
    {"object": "whatsapp_business_account",
     "entry": [{"changes": [{"field": "messages",
                             "value": {"messages": {"id": "x"}, "statuses": "read",
                                       "contacts": {"wa_id": "1"}, "errors": [None, 5]}}]}]},
])
def test_garbage_shapes_never_raise(payload: object) -> None:
    parsed = parse_meta_webhook(payload)
    assert isinstance(parsed, ParsedWebhook)
    assert parsed.messages == ()
    assert parsed.statuses == ()
    assert parsed.ignored  # always explained


def test_garbage_items_are_skipped_and_the_rest_survives() -> None:
    good = p.text_message(WA, "bien", wamid="wamid.GOOD")
    value = good["entry"][0]["changes"][0]["value"]
    value["contacts"] += [None, "x", {"profile": None, "wa_id": WA},
                          {"profile": {"name": 5}, "wa_id": None}]
    value["messages"] += [
        None, [], "texto", {}, {"id": None, "from": WA}, {"id": "", "from": WA},
        {"id": "wamid.N1", "from": None, "type": "text"},
        {"id": "wamid.N2", "from": WA, "type": "text", "text": None},
        {"id": "wamid.N3", "from": WA, "type": "text", "text": {"body": ["x"]}},
        {"id": "wamid.N4", "from": WA, "type": "interactive", "interactive": "x"},
        {"id": "wamid.N5", "from": WA, "type": "interactive",
         "interactive": {"type": "button_reply", "button_reply": None}},
        {"id": "wamid.N6", "from": WA, "type": "image", "image": None},
        {"id": "wamid.N7", "from": WA, "type": "location", "location": {"latitude": None}},
        {"id": "wamid.N8", "from": WA, "type": "contacts", "contacts": [None, {"phones": 3}]},
        {"id": "wamid.N9", "from": WA, "type": "reaction", "reaction": []},
        {"id": "wamid.N10", "from": WA, "type": "system", "system": 1},
        {"id": "wamid.N11", "from": WA, "type": ["text"], "context": "x", "timestamp": []},
        {"id": "wamid.N12", "from": WA, "type": "audio", "audio": {"voice": "yes"}},
        {"id": 12345, "from": 573001234567, "type": "text", "text": {"body": "numeric ids"}},
        {"id": "wamid.N13", "from": True, "user_id": "CO.1", "type": "text"},
    ]
    value["statuses"] = [None, {}, {"id": "wamid.S", "status": "read", "errors": [None, 1]},
                         {"id": "wamid.T", "status": "failed", "errors": "boom",
                          "timestamp": {"x": 1}}]
    parsed = parse_meta_webhook(good, now=NOW)
    ids = [m.provider_id for m in parsed.messages]
    assert ids[0] == "wamid.GOOD"
    assert parsed.messages[0].profile_name == "Ana"
    assert "wamid.N1" not in ids
    assert {f"wamid.N{i}" for i in range(2, 14)} <= set(ids)
    assert "12345" in ids
    by_id = {m.provider_id: m for m in parsed.messages}
    assert by_id["wamid.N11"].type is MessageType.UNKNOWN
    assert by_id["wamid.N11"].sent_at == NOW
    assert by_id["wamid.N12"].is_voice is False
    assert by_id["wamid.N13"].wa_id == "CO.1"
    assert by_id["12345"].wa_id == "573001234567"
    assert [s.provider_id for s in parsed.statuses] == ["wamid.S", "wamid.T"]
    assert parsed.statuses[1].at == NOW
    assert len(parsed.ignored) >= 9


def test_non_whatsapp_object_is_ignored() -> None:
    payload = p.text_message(WA, "x")
    payload["object"] = "instagram"
    parsed = parse_meta_webhook(payload)
    assert parsed.messages == ()
    assert "instagram" in parsed.ignored[0]


# -- signature ----------------------------------------------------------------------------

SECRET = "app-secret-🔑"


def test_signature_round_trip_with_non_ascii_text() -> None:
    body = p.encode(p.text_message(WA, "¿Qué nota saqué en español? ñandú 😀"))
    assert b"\\u00bf" in body  # Meta escapes non-ASCII in the raw body
    header = p.sign(body, SECRET)
    assert header.startswith("sha256=")
    assert header == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert verify_meta_signature(body, header, SECRET)
    assert verify_meta_signature(body, header.upper().replace("SHA256=", "sha256="), SECRET)
    # Re-serialising the decoded JSON does not give back the signed bytes.
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode()
    assert reserialised != body
    assert not verify_meta_signature(reserialised, header, SECRET)
    compact = json.dumps(json.loads(body), separators=(",", ":"),
                         ensure_ascii=False).encode()
    assert not verify_meta_signature(compact, header, SECRET)


def test_signed_headers_verify() -> None:
    body = p.encode(p.text_message(WA, "hola"))
    headers = p.signed_headers(body, SECRET)
    assert headers["Content-Type"] == "application/json"
    assert verify_meta_signature(body, headers["X-Hub-Signature-256"], SECRET)
    assert not verify_meta_signature(body, headers["X-Hub-Signature-256"], "other")


def test_signature_over_raw_utf8_bytes() -> None:
    body = json.dumps({"texto": "canción"}, ensure_ascii=False).encode("utf-8")
    assert verify_meta_signature(body, p.sign(body, SECRET), SECRET)


@pytest.mark.parametrize("header", [
    None, "", "sha256=", "sha256", "sha1=abc", "md5=" + "0" * 64, "sha256=" + "0" * 64,
    "sha256=" + "g" * 64, "sha256=" + "a" * 63, "sha256=" + "a" * 65, "sha256=é" + "a" * 63,
    "sha256=ＡＢ" + "a" * 62, 123, b"sha256=00",
])
def test_invalid_or_malformed_signatures_are_false(header: Any) -> None:
    body = p.encode(p.text_message(WA, "hola"))
    assert verify_meta_signature(body, header, SECRET) is False


def test_signature_with_the_wrong_secret_or_a_changed_body() -> None:
    body = p.encode(p.text_message(WA, "hola"))
    header = p.sign(body, SECRET)
    assert not verify_meta_signature(body, header, "other-secret")
    assert not verify_meta_signature(body, header, "")
    assert not verify_meta_signature(body + b" ", header, SECRET)


# -- builders -----------------------------------------------------------------------------


def test_builders_make_unique_wamids() -> None:
    ids = {p.wamid_of(p.text_message(WA, "x")) for _ in range(50)}
    assert len(ids) == 50
    assert all(i.startswith("wamid.TEST") for i in ids)


def test_mask_phone() -> None:
    assert mask_phone("+573001234567") == "+57***4567"
    assert mask_phone("573001234567") == "57***4567"
    assert mask_phone("CO.1234567890") == "***7890"
    assert mask_phone("123") == "***"
