"""Twilio webhook signatures: ``X-Twilio-Signature``.

Twilio signs each request with base64(HMAC-SHA1(auth token, URL + parameters)), where
the URL is the full public URL Twilio called (scheme, host, path and query string) and the
parameters are the POST form fields sorted by name, each appended as ``name + value`` with
no separator (a repeated name contributes each of its values, sorted). Blank values count.

Behind a reverse proxy the URL the application sees (``http://10.0.0.5:8000/…``) is not the
one Twilio signed (``https://eki.school.edu/…``): validate against the public URL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit, urlunsplit

Params = Mapping[str, str] | Iterable[tuple[str, str]]


def _pairs(params: Params) -> list[tuple[str, str]]:
    if isinstance(params, Mapping):
        return [(str(k), str(v)) for k, v in params.items()]
    return [(str(k), str(v)) for k, v in params]


def _signed_text(url: str, params: Params) -> str:
    values: dict[str, list[str]] = {}
    for name, value in _pairs(params):
        values.setdefault(name, []).append(value)
    parts = [url]
    for name in sorted(values):
        parts.extend(name + value for value in sorted(values[name]))
    return "".join(parts)


def compute_twilio_signature(url: str, params: Params, auth_token: str) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for a POST of ``params`` to ``url``."""
    mac = hmac.new(auth_token.encode("utf-8"), _signed_text(url, params).encode("utf-8"),
                   hashlib.sha1)
    return base64.b64encode(mac.digest()).decode("ascii")


def _url_variants(url: str) -> list[str]:
    """The URL as given, without its port and with the scheme's default port: Twilio has
    signed each of these forms at some point, so its own libraries accept all of them."""
    variants = [url]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return variants
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = userinfo + "@" if userinfo else ""
    if port is not None:
        variants.append(urlunsplit(parts._replace(netloc=prefix + host)))
    elif parts.scheme in ("http", "https"):
        default = 443 if parts.scheme == "https" else 80
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
    return variants


def verify_twilio_signature(url: str, params: Params, header: str | None,
                            auth_token: str) -> bool:
    """Whether ``header`` is Twilio's signature of this POST to ``url``.

    Constant-time comparison; ``False`` (never an exception) for a missing header or an
    empty token. The URL is tried as given, without its port and with the default port.
    """
    if not auth_token or not isinstance(header, str) or not header.strip():
        return False
    received = header.strip().encode("ascii", errors="replace")
    pairs = _pairs(params)
    ok = False
    for candidate in _url_variants(url):
        expected = compute_twilio_signature(candidate, pairs, auth_token).encode("ascii")
        ok |= hmac.compare_digest(expected, received)
    return ok
