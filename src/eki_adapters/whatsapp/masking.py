"""Phone masking for logs: enough to tell numbers apart, not enough to call anyone."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """Keep a 3-character prefix (``+57`` / ``573``) and the last 4 digits.

    ``+573001234567`` → ``+57***4567``; ``573001234567`` → ``573***4567``; short or
    odd values (a business-scoped user id, a test id) keep only their last 4 characters.
    """
    value = phone.strip()
    if len(value) <= 4:
        return "***"
    if len(value) <= 8 or not value.lstrip("+").isdigit():
        return "***" + value[-4:]
    return value[:3] + "***" + value[-4:]
