"""Production hardening around every request.

- :class:`ProxyHeadersMiddleware`: behind a TLS proxy, believe ``X-Forwarded-Proto`` and
  ``X-Forwarded-For`` only when the connection comes from ``EKI_TRUSTED_PROXIES``; the
  request's scheme and client address are then the original ones (HTTPS redirect, HSTS,
  Secure cookies and per-IP rate limits depend on them).
- :class:`HttpsRedirectMiddleware`: with ``EKI_FORCE_HTTPS``, plain-HTTP requests are
  redirected (308) to ``https://`` — except the health probes, which orchestrators call
  over the internal network.
- :class:`SecurityHeadersMiddleware`: headers on every response (a CSP without inline
  scripts or styles, ``nosniff``, no framing, no referrer; HSTS over HTTPS when HTTPS is
  forced; ``Cache-Control: no-store`` under ``/api``, whose answers carry personal data).
  A response that sets one of these headers itself keeps its own value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=()"),
)
#: Probes call these over the internal network (plain HTTP, any Host).
PROBE_PATHS = frozenset({"/healthz", "/readyz"})

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class TrustedProxies:
    """``EKI_TRUSTED_PROXIES``: addresses and networks, or ``*`` (everyone — only when
    nothing but the proxy can reach EKI)."""

    def __init__(self, entries: Iterable[str]) -> None:
        entries = tuple(entries)
        self.everyone = "*" in entries
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(e, strict=False) for e in entries if e != "*")

    def __bool__(self) -> bool:
        return self.everyone or bool(self.networks)

    def __contains__(self, host: object) -> bool:
        if self.everyone:
            return True
        if not isinstance(host, str):
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)


class ProxyHeadersMiddleware:
    def __init__(self, app: ASGIApp, trusted: Sequence[str] = ()) -> None:
        self.app = app
        self.trusted = TrustedProxies(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted:
            client = scope.get("client")
            if client is not None and client[0] in self.trusted:
                headers = Headers(scope=scope)
                proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
                if proto in ("http", "https"):
                    scope = dict(scope)
                    scope["scheme"] = proto if scope["type"] == "http" else (
                        "wss" if proto == "https" else "ws")
                forwarded = headers.get("x-forwarded-for")
                if forwarded:
                    original = _original_client(forwarded, self.trusted)
                    if original is not None:
                        scope = dict(scope)
                        scope["client"] = (original, 0)
        await self.app(scope, receive, send)


def _original_client(forwarded_for: str, trusted: TrustedProxies) -> str | None:
    """The rightmost address not a trusted proxy (the left part can be forged). With
    ``*`` only the proxy that connected is trusted: the address it appended (the rightmost)
    is the client — never a hop to its left, which the client itself may have written."""
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    if trusted.everyone:
        return hops[-1] if hops else None
    for hop in reversed(hops):
        if hop not in trusted:
            return hop
    return hops[0] if hops else None


class HttpsRedirectMiddleware:
    def __init__(self, app: ASGIApp, enabled: bool = True) -> None:
        self.app = app
        self.enabled = enabled

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (self.enabled and scope["type"] == "http" and scope.get("scheme") == "http"
                and scope["path"] not in PROBE_PATHS):
            host = Headers(scope=scope).get("host", "").split(":")[0]
            query = scope.get("query_string", b"").decode("latin-1")
            path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
            url = f"https://{host}{path}" + (f"?{query}" if query else "")
            await RedirectResponse(url, status_code=308)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts_max_age: int = 0) -> None:
        self.app = app
        self.headers = SECURITY_HEADERS
        self.hsts = (f"max-age={hsts_max_age}; includeSubDomains" if hsts_max_age > 0
                     else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        personal = scope["path"] == "/api" or scope["path"].startswith("/api/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name not in headers:
                        headers.append(name, value)
                if personal and "cache-control" not in headers:
                    headers.append("cache-control", "no-store")  # personal data: no caches
                if https and self.hsts is not None and "strict-transport-security" not in headers:
                    headers.append("strict-transport-security", self.hsts)
            await send(message)

        await self.app(scope, receive, send_with_headers)
