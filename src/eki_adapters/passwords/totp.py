"""The ``SecondFactor`` port on pyotp (RFC 6238: 6 digits, 30-second steps, SHA-1 — what
every authenticator app reads)."""

from __future__ import annotations

from datetime import datetime

import pyotp

_CODE_LENGTH = 6


class TotpSecondFactor:
    def new_secret(self) -> str:
        return pyotp.random_base32()

    def verify(self, secret: str, code: str, at: datetime) -> bool:
        if len(code) != _CODE_LENGTH or not code.isascii() or not code.isdigit():
            return False
        try:
            return pyotp.TOTP(secret).verify(code, for_time=at, valid_window=1)
        except (ValueError, TypeError):  # a corrupted stored secret
            return False

    def provisioning_uri(self, secret: str, *, account: str, issuer: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)
