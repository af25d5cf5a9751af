"""The admin sign-in cookie and CSRF tokens.

A session is a signed (HMAC-SHA256), expiring cookie: ``base64(json).base64(mac)``. The key
is ``EKI_SECRET_KEY`` when set, else derived from ``EKI_ADMIN_TOKEN``; every session also
carries a fingerprint of the admin token, so changing the token signs everyone out.
Forms carry a CSRF token: the session's own for signed-in forms, and for the sign-in form
a short-lived token kept in a second signed cookie (double submit, signed).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from datetime import datetime
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response

from eki_entrypoints.settings import Settings

SESSION_COOKIE = "eki_admin"
LOGIN_COOKIE = "eki_admin_login"
COOKIE_PATH = "/admin"
LOGIN_FORM_SECONDS = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@attrs.frozen
class AdminSession:
    csrf: str
    expires: int  # epoch seconds


class Signer:
    """Signs and checks the admin cookies for one configuration."""

    def __init__(self, settings: Settings) -> None:
        if settings.admin_token is None:
            raise ValueError("the admin site needs EKI_ADMIN_TOKEN")
        token = settings.admin_token.get().encode()
        if settings.secret_key is not None:
            self._key = hashlib.sha256(b"eki-admin-cookie\x00"
                                       + settings.secret_key.get().encode()).digest()
        else:
            self._key = hmac.new(token, b"eki-admin-cookie", hashlib.sha256).digest()
        self._token = token
        self.fingerprint = _b64(hmac.new(self._key, b"token\x00" + token,
                                         hashlib.sha256).digest()[:12])

    def token_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.strip().encode(), self._token)

    def dumps(self, data: dict[str, Any]) -> str:
        body = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()
        return f"{body}.{_b64(mac)}"

    def loads(self, value: str | None) -> dict[str, Any] | None:
        """The signed data, or None when the value is missing, forged or malformed."""
        if not value or value.count(".") != 1:
            return None
        body, mac = value.split(".")
        expected = _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            return None
        try:
            data = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        return data if isinstance(data, dict) else None

    # -- sessions ----------------------------------------------------------------------
    def new_session(self, now: datetime, hours: int) -> tuple[AdminSession, str]:
        session = AdminSession(csrf=secrets.token_urlsafe(24),
                               expires=int(now.timestamp()) + hours * 3600)
        return session, self.dumps({"k": "session", "csrf": session.csrf,
                                    "exp": session.expires, "tf": self.fingerprint})

    def session(self, value: str | None, now: datetime) -> tuple[AdminSession | None, bool]:
        """(the session, whether a once-valid cookie has expired)."""
        data = self.loads(value)
        if data is None or data.get("k") != "session" or data.get("tf") != self.fingerprint:
            return None, False
        expires, csrf = data.get("exp"), data.get("csrf")
        if not isinstance(expires, int) or not isinstance(csrf, str):
            return None, False
        if expires <= now.timestamp():
            return None, True
        return AdminSession(csrf=csrf, expires=expires), False

    # -- the sign-in form's CSRF token -------------------------------------------------------
    def new_login_token(self, now: datetime) -> tuple[str, str]:
        token = secrets.token_urlsafe(24)
        return token, self.dumps({"k": "login", "csrf": token,
                                  "exp": int(now.timestamp()) + LOGIN_FORM_SECONDS})

    def login_token(self, value: str | None, now: datetime) -> str | None:
        data = self.loads(value)
        if data is None or data.get("k") != "login":
            return None
        expires, token = data.get("exp"), data.get("csrf")
        if not isinstance(expires, int) or not isinstance(token, str):
            return None
        return token if expires > now.timestamp() else None


def csrf_ok(expected: str | None, given: object) -> bool:
    return (expected is not None and isinstance(given, str) and bool(given)
            and hmac.compare_digest(expected.encode(), given.encode()))


def set_cookie(response: Response, request: Request, name: str, value: str,
               max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=request.url.scheme == "https")
