"""Twilio's WhatsApp addresses (``whatsapp:+573001234567``) ↔ EKI's wa_id (``573001234567``)."""

from __future__ import annotations

PREFIX = "whatsapp:"


def is_whatsapp_address(value: str) -> bool:
    return value.strip().lower().startswith(PREFIX)


def wa_id_from_address(value: str) -> str | None:
    """``whatsapp:+573001234567`` → ``573001234567``; None without digits."""
    text = value.strip()
    if text.lower().startswith(PREFIX):
        text = text[len(PREFIX):]
    digits = text.strip().lstrip("+")
    return digits if digits.isascii() and digits.isdigit() else None


def whatsapp_address(to: str) -> str:
    """What Twilio's ``To`` expects for a wa_id, an E.164 number or an address."""
    text = to.strip()
    if text.lower().startswith(PREFIX):
        text = text[len(PREFIX):].strip()
    return PREFIX + "+" + text.lstrip("+")
