"""The HTTP client the channel adapters (Meta, Twilio) send with when none is given."""

from __future__ import annotations

import httpx2

#: A dispatcher sends a batch of replies and their read receipts at once, several
#: dispatchers side by side: keep that many connections alive between batches. httpx2's
#: default keeps only 20, so every batch above 20 opened (and closed) new connections.
PROVIDER_LIMITS = httpx2.Limits(max_connections=200, max_keepalive_connections=200,
                                keepalive_expiry=30.0)


def provider_client(timeout: float) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` for a messaging provider's API."""
    return httpx2.AsyncClient(timeout=timeout, limits=PROVIDER_LIMITS)
