"""WhatsApp adapters: Meta Cloud API webhooks and sending, and a console stand-in.

The sending channel (and its HTTP client) is imported on first use: command-line tools
that never send WhatsApp messages start faster without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eki_adapters.whatsapp.console_channel import ConsoleChannel
from eki_adapters.whatsapp.masking import mask_phone
from eki_adapters.whatsapp.meta_payload import ParsedWebhook, parse_meta_webhook
from eki_adapters.whatsapp.signature import compute_meta_signature, verify_meta_signature

if TYPE_CHECKING:
    from eki_adapters.whatsapp.meta_channel import (
        PERMANENT_CODES,
        TRANSIENT_CODES,
        MetaCloudChannel,
        text_message_body,
    )

_LAZY = {"PERMANENT_CODES", "TRANSIENT_CODES", "MetaCloudChannel", "text_message_body"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from eki_adapters.whatsapp import meta_channel

        return getattr(meta_channel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
