"""The admin sign-in cookie, the server-side session store and CSRF tokens.

A session is a signed (HMAC-SHA256), expiring cookie: ``base64(json).base64(mac)`` holding a
random session id; the :class:`SessionStore` keeps the sha256 of that id until the session
expires or the person signs out, so a copied cookie replayed after "Cerrar sesión" opens
nothing. The key is ``EKI_SECRET_KEY`` when set, else a random key generated once and kept
in the database — never derived from a token (a cookie then says nothing about the token).
Every session also carries a keyed fingerprint of the admin token, so changing the token
signs everyone out.
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
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import attrs
from starlette.requests import Request
from starlette.responses import Response

from eki_domain.model.sessions import SessionRecord
from eki_entrypoints.bootstrap import Eki
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
    sid: str = ""  # the random session id (its sha256 is the store's key)

    @property
    def id_hash(self) -> str:
        return session_id_hash(self.sid)


def session_id_hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


class SessionStore(Protocol):
    """Where sign-in sessions live between requests (SQL, or memory for one process)."""

    async def add(self, id_hash: str, created_at: datetime, expires_at: datetime, *,
                  staff_id: int | None = None, epoch: int = 0) -> None:
        """``staff_id`` None: a break-glass sign-in with the shared token."""
        ...

    async def get(self, id_hash: str, now: datetime) -> SessionRecord | None:
        """Whose the session is, while it has not expired nor been revoked."""
        ...

    async def active(self, id_hash: str, now: datetime) -> bool: ...

    async def revoke(self, id_hash: str) -> None: ...

    async def secret(self, name: str, make: Callable[[], str], now: datetime) -> str: ...


async def signing_key(settings: Settings, store: SessionStore, now: datetime) -> bytes:
    """``EKI_SECRET_KEY``, else the key generated once and kept in ``store``."""
    if settings.secret_key is not None:
        return settings.secret_key.get().encode()
    stored = await store.secret("session", lambda: secrets.token_urlsafe(48), now)
    return stored.encode()


class Signer:
    """Signs and checks the admin cookies for one configuration.

    ``stored_key``: the generated key, used when ``EKI_SECRET_KEY`` is unset."""

    def __init__(self, settings: Settings, stored_key: bytes | None = None) -> None:
        #: False when EKI_ADMIN_TOKEN is unset (staff accounts only, no break-glass).
        self.has_token = settings.admin_token is not None
        token = b"" if settings.admin_token is None else settings.admin_token.get().encode()
        key = (settings.secret_key.get().encode() if settings.secret_key is not None
               else stored_key)
        if not key:
            raise ValueError("the admin site needs EKI_SECRET_KEY or a stored key")
        self._key = hashlib.sha256(b"eki-admin-cookie\x00" + key).digest()
        self._token = token
        self.fingerprint = _b64(hmac.new(self._key, b"token\x00" + token,
                                         hashlib.sha256).digest()[:12])

    def token_matches(self, candidate: str) -> bool:
        return bool(self._token) and hmac.compare_digest(candidate.strip().encode(),
                                                         self._token)

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
        """A new session (to :meth:`SessionStore.add`) and its cookie value."""
        session = AdminSession(csrf=secrets.token_urlsafe(24),
                               expires=int(now.timestamp()) + hours * 3600,
                               sid=secrets.token_urlsafe(32))
        return session, self.dumps({"k": "session", "csrf": session.csrf, "sid": session.sid,
                                    "exp": session.expires, "tf": self.fingerprint})

    def session(self, value: str | None, now: datetime) -> tuple[AdminSession | None, bool]:
        """(the session, whether a once-valid cookie has expired)."""
        data = self.loads(value)
        if data is None or data.get("k") != "session" or data.get("tf") != self.fingerprint:
            return None, False
        expires, csrf, sid = data.get("exp"), data.get("csrf"), data.get("sid")
        if not isinstance(expires, int) or not isinstance(csrf, str) or not isinstance(sid, str):
            return None, False
        if expires <= now.timestamp():
            return None, True
        return AdminSession(csrf=csrf, expires=expires, sid=sid), False

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


def _secure(request: Request) -> bool:
    """Cookies are Secure over HTTPS, and always when EKI_FORCE_HTTPS is on."""
    settings: Settings = request.app.state.settings
    return request.url.scheme == "https" or settings.force_https


def set_cookie(response: Response, request: Request, name: str, value: str,
               max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path=COOKIE_PATH, httponly=True,
                        samesite="strict", secure=_secure(request))


def clear_cookie(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=_secure(request))


def session_store(eki: Eki) -> SessionStore:
    """The store for this app: the database's, or memory when there is none. Nothing
    connects until a session is used."""
    if eki.engine is not None:
        from eki_adapters.sql.sessions import SqlSessionStore

        return SqlSessionStore(eki.engine)
    from eki_adapters.memory.sessions import InMemorySessionStore

    return InMemorySessionStore()
