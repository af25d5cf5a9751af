"""WhatsApp adapters: Meta Cloud API webhooks and sending, and a console stand-in."""

from __future__ import annotations

from eki_adapters.whatsapp.console_channel import ConsoleChannel
from eki_adapters.whatsapp.masking import mask_phone
from eki_adapters.whatsapp.meta_channel import (
    PERMANENT_CODES,
    TRANSIENT_CODES,
    MetaCloudChannel,
    text_message_body,
)
from eki_adapters.whatsapp.meta_payload import ParsedWebhook, parse_meta_webhook
from eki_adapters.whatsapp.signature import compute_meta_signature, verify_meta_signature

__all__ = [
    "PERMANENT_CODES",
    "TRANSIENT_CODES",
    "ConsoleChannel",
    "MetaCloudChannel",
    "ParsedWebhook",
    "compute_meta_signature",
    "mask_phone",
    "parse_meta_webhook",
    "text_message_body",
    "verify_meta_signature",
]
