"""Twilio's WhatsApp channel: signed form webhooks in, the Messages API out.

The sending channel (and its HTTP client) is imported on first use: command-line tools
that never send WhatsApp messages start faster without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eki_adapters.twilio.address import wa_id_from_address, whatsapp_address
from eki_adapters.twilio.errors import PERMANENT_CODES, TRANSIENT_CODES
from eki_adapters.twilio.form import (
    STATUSES,
    ParsedTwilioWebhook,
    form_fields,
    parse_twilio_webhook,
)
from eki_adapters.twilio.signature import compute_twilio_signature, verify_twilio_signature

if TYPE_CHECKING:
    from eki_adapters.twilio.channel import DEFAULT_API_URL, MAX_BODY_CHARS, TwilioChannel

_LAZY = {"DEFAULT_API_URL", "MAX_BODY_CHARS", "TwilioChannel"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from eki_adapters.twilio import channel

        return getattr(channel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_API_URL",
    "MAX_BODY_CHARS",
    "PERMANENT_CODES",
    "STATUSES",
    "TRANSIENT_CODES",
    "ParsedTwilioWebhook",
    "TwilioChannel",
    "compute_twilio_signature",
    "form_fields",
    "parse_twilio_webhook",
    "verify_twilio_signature",
    "wa_id_from_address",
    "whatsapp_address",
]
