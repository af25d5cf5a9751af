"""Twilio form webhooks → IncomingMessage / StatusReport (built with the shipped doubles)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eki_adapters.twilio import parse_twilio_webhook, wa_id_from_address, whatsapp_address
from eki_domain.model.messages import DeliveryStatus, MessageType
from eki_testing import twilio as tw

ANA = "573001234567"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def one_message(form: dict[str, str]):  # type: ignore[no-untyped-def]
    parsed = parse_twilio_webhook(form, now=NOW)
    assert parsed.statuses == ()
    (message,) = parsed.messages
    return message


def test_text_message() -> None:
    form = tw.text_message(ANA, "¿Cómo voy? 🙏", name="Ana María", sid="SM" + "1" * 32)
    message = one_message(form)
    assert message.channel == "twilio"
    assert message.provider_id == "SM" + "1" * 32
    assert message.wa_id == ANA
    assert message.type is MessageType.TEXT
    assert message.text == "¿Cómo voy? 🙏"
    assert message.profile_name == "Ana María"
    assert message.sent_at == NOW
    assert message.payload is None and message.context_id is None
    assert json.loads(message.raw)["Body"] == "¿Cómo voy? 🙏"


def test_sender_from_the_address_when_waid_is_missing() -> None:
    form = tw.text_message(ANA, "hola")
    del form["WaId"]
    assert one_message(form).wa_id == ANA


def test_a_reply_keeps_the_quoted_message() -> None:
    form = tw.text_message(ANA, "sí", replied_to="SMquoted")
    assert one_message(form).context_id == "SMquoted"


def test_image_with_caption() -> None:
    form = tw.media_message(ANA, "image/jpeg", caption="mis datos")
    message = one_message(form)
    assert message.type is MessageType.IMAGE
    assert message.text == "mis datos"
    assert message.mime_type == "image/jpeg"
    assert message.media_id == form["MediaUrl0"]
    assert message.provider_id.startswith("MM")


@pytest.mark.parametrize(("content_type", "kind", "voice"), [
    ("audio/ogg", MessageType.AUDIO, True),  # a WhatsApp voice note
    ("audio/mpeg", MessageType.AUDIO, False),
    ("video/mp4", MessageType.VIDEO, False),
    ("application/pdf", MessageType.DOCUMENT, False),
    ("image/webp", MessageType.STICKER, False),
])
def test_media_kinds(content_type: str, kind: MessageType, voice: bool) -> None:
    message = one_message(tw.media_message(ANA, content_type))
    assert (message.type, message.is_voice, message.text) == (kind, voice, None)


@pytest.mark.parametrize(("content_type", "kind"), [
    ("image/png", MessageType.IMAGE), ("audio/ogg", MessageType.AUDIO),
    ("application/vnd.ms-excel", MessageType.DOCUMENT), ("image/webp", MessageType.STICKER),
])
def test_media_kind_is_inferred_without_message_type(content_type: str,
                                                     kind: MessageType) -> None:
    form = tw.media_message(ANA, content_type)
    del form["MessageType"]
    assert one_message(form).type is kind


def test_several_media_keep_the_first_and_say_so() -> None:
    parsed = parse_twilio_webhook(tw.media_message(ANA, "image/jpeg", count=3), now=NOW)
    assert len(parsed.messages) == 1
    assert "3 media" in parsed.ignored[0]


def test_button_reply() -> None:
    form = tw.button_reply(ANA, "Ver mis notas", "MENU_NOTAS", replied_to="SMtemplate")
    message = one_message(form)
    assert message.type is MessageType.BUTTON
    assert (message.text, message.payload) == ("Ver mis notas", "MENU_NOTAS")
    assert message.context_id == "SMtemplate"
    del form["MessageType"]
    assert one_message(form).type is MessageType.BUTTON


def test_list_reply_is_interactive() -> None:
    form = tw.text_message(ANA, "Matemáticas")
    form.update(MessageType="interactive", ListId="course-7", ListTitle="Matemáticas")
    message = one_message(form)
    assert (message.type, message.text, message.payload) == (
        MessageType.INTERACTIVE, "Matemáticas", "course-7")


def test_location() -> None:
    message = one_message(tw.location_message(ANA, 4.711, -74.0721, label="Colegio"))
    assert message.type is MessageType.LOCATION
    assert message.text == "4.711,-74.0721 Colegio"


def test_unknown_message_type_is_inferred_and_noted() -> None:
    form = tw.text_message(ANA, "hola")
    form["MessageType"] = "hologram"
    parsed = parse_twilio_webhook(form, now=NOW)
    assert parsed.messages[0].type is MessageType.TEXT
    assert "hologram" in parsed.ignored[0]


def test_sms_and_incomplete_posts_are_ignored_with_a_note() -> None:
    sms = tw.text_message(ANA, "hola")
    sms["From"] = "+573001234567"
    assert parse_twilio_webhook(sms).messages == ()
    assert "not a WhatsApp message" in parse_twilio_webhook(sms).ignored[0]
    no_sid = {k: v for k, v in tw.text_message(ANA, "hola").items() if "Sid" not in k}
    assert parse_twilio_webhook(no_sid).ignored == ("no MessageSid: ignored",)
    nobody = {k: v for k, v in tw.text_message(ANA, "hola").items()
              if k not in ("From", "WaId")}
    assert "no sender" in parse_twilio_webhook(nobody).ignored[0]


# -- status callbacks ------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "expected"), [
    ("queued", DeliveryStatus.QUEUED),
    ("sending", DeliveryStatus.SENDING),
    ("sent", DeliveryStatus.SENT),
    ("delivered", DeliveryStatus.DELIVERED),
    ("read", DeliveryStatus.READ),
    ("failed", DeliveryStatus.FAILED),
    ("undelivered", DeliveryStatus.FAILED),
])
def test_status_callbacks(status: str, expected: DeliveryStatus) -> None:
    parsed = parse_twilio_webhook(tw.status_callback("SMout", status, to=ANA), now=NOW)
    assert parsed.messages == ()
    (report,) = parsed.statuses
    assert (report.channel, report.provider_id, report.status, report.at, report.recipient) \
        == ("twilio", "SMout", expected, NOW, ANA)


def test_failed_status_carries_the_twilio_code_and_a_hint() -> None:
    form = tw.status_callback("SMout", "undelivered", to=ANA, error_code=63016)
    (report,) = parse_twilio_webhook(form).statuses
    assert report.status is DeliveryStatus.FAILED
    assert report.error_code == "63016"
    assert report.error_title is not None and "24 horas" in report.error_title
    with_message = tw.status_callback("SMout", "failed", to=ANA, error_code=63003,
                                      error_message="Channel could not find To address")
    assert parse_twilio_webhook(with_message).statuses[0].error_title == (
        "Channel could not find To address")
    (bare,) = parse_twilio_webhook(tw.status_callback("SMout", "undelivered", to=ANA)).statuses
    assert (bare.error_code, bare.error_title) == ("UNDELIVERED", None)


def test_unknown_status_is_ignored_with_a_note() -> None:
    parsed = parse_twilio_webhook(tw.status_callback("SMout", "canceled", to=ANA))
    assert parsed.statuses == () and parsed.messages == ()
    assert "canceled" in parsed.ignored[0]


def test_addresses() -> None:
    assert wa_id_from_address("whatsapp:+573001234567") == ANA
    assert wa_id_from_address("WhatsApp:+573001234567") == ANA
    assert wa_id_from_address("+573001234567") == ANA
    assert wa_id_from_address("whatsapp:") is None
    assert wa_id_from_address("whatsapp:+57abc") is None
    for value in (ANA, "+" + ANA, "whatsapp:+" + ANA, " whatsapp:+" + ANA + " "):
        assert whatsapp_address(value) == "whatsapp:+" + ANA


@given(st.dictionaries(st.sampled_from([
    "MessageSid", "From", "WaId", "Body", "NumMedia", "MediaContentType0", "MediaUrl0",
    "MessageType", "ButtonPayload", "ButtonText", "MessageStatus", "ErrorCode", "To",
    "Latitude", "Longitude", "ListId", "OriginalRepliedMessageSid", "ProfileName",
]), st.text(max_size=30)))
def test_never_raises_on_odd_forms(form: dict[str, str]) -> None:
    parsed = parse_twilio_webhook(form, now=NOW)
    assert len(parsed.messages) + len(parsed.statuses) <= 1
    assert parsed.messages or parsed.statuses or parsed.ignored
