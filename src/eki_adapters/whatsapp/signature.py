"""Meta webhook signatures: ``X-Hub-Signature-256: sha256=<hex>`` over the raw body."""

from __future__ import annotations

import hashlib
import hmac

_PREFIX = "sha256="
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def compute_meta_signature(raw_body: bytes, app_secret: str) -> str:
    """The header value Meta sends for ``raw_body``: ``sha256=`` + hex HMAC-SHA256."""
    digest = hmac.new(app_secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_meta_signature(raw_body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``header`` is the signature of exactly these bytes under ``app_secret``.

    Compute it over the bytes received, never over re-serialised JSON (Meta escapes
    non-ASCII characters; ``json.dumps`` would not reproduce them). Constant-time
    comparison; ``False`` (never an exception) for a missing or malformed header or an
    empty secret.
    """
    if not app_secret or not isinstance(header, str) or not isinstance(raw_body, bytes):
        return False
    value = header.strip()
    if not value.lower().startswith(_PREFIX):
        return False
    received = value[len(_PREFIX):].lower()
    if len(received) != hashlib.sha256().digest_size * 2 or not _HEX_DIGITS.issuperset(received):
        return False
    expected = compute_meta_signature(raw_body, app_secret)[len(_PREFIX):]
    return hmac.compare_digest(expected.encode("ascii"), received.encode("ascii"))
