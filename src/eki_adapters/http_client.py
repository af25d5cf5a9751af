"""The HTTP clients EKI's adapters call providers with: httpx2 on aiohttp.

``openai.DefaultAioHttpClient`` is the OpenAI SDK's public httpx2 client class over its
aiohttp transport (``openai[aiohttp]`` is a dependency). The model adapter gives it to the
SDK (the SDK's documented choice for many concurrent calls: 0.9 instead of 1.9 ms of CPU per
call with 500 in flight); the channel adapters (Meta, Twilio) send with it too (0.25 ms of
CPU per request with 160 in flight, against 0.6 ms for httpx2's own pool, which reconnects
above 20 kept-alive connections, and 1.3 ms when that pool keeps 200 alive: it probes every
idle connection on each request).

That transport reports every lost or refused connection as ``httpx2.ConnectTimeout``; the
client here raises what httpx2's own transport would (``ConnectError``,
``RemoteProtocolError``, ``ReadError``), with the aiohttp error as the cause, so callers
classify failures by httpx2's exception types alone.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

import httpx2

#: A dispatcher sends a batch of replies and their read receipts at once, several
#: dispatchers side by side: enough connections for all of them, kept alive between batches.
PROVIDER_LIMITS = httpx2.Limits(max_connections=200, max_keepalive_connections=200,
                                keepalive_expiry=30.0)


def aiohttp_available() -> bool:
    """Whether the aiohttp transport can be used (``pip install openai[aiohttp]``)."""
    return importlib.util.find_spec("aiohttp") is not None


def provider_client(timeout: float) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` (on aiohttp) for a messaging provider's API."""
    return _client_class()(timeout=timeout, limits=PROVIDER_LIMITS, follow_redirects=False)


def sdk_client(timeout: float) -> httpx2.AsyncClient:
    """An ``httpx2.AsyncClient`` (on aiohttp) with the OpenAI SDK's defaults."""
    return _client_class()(timeout=timeout)


@functools.cache
def _client_class() -> type[httpx2.AsyncClient]:
    # Imported on first use, not at import time: the SDK takes a while to import.
    import aiohttp
    import openai

    def precise(exc: httpx2.ConnectTimeout) -> httpx2.TransportError | None:
        cause = exc.__cause__
        if isinstance(cause, TimeoutError | aiohttp.ServerTimeoutError) or not isinstance(
                cause, aiohttp.ClientConnectionError):
            return None  # a real timeout
        kind: type[httpx2.TransportError] = httpx2.ReadError
        if isinstance(cause, aiohttp.ClientConnectorError):
            kind = httpx2.ConnectError
        elif isinstance(cause, aiohttp.ServerDisconnectedError):
            kind = httpx2.RemoteProtocolError
        try:
            request: httpx2.Request | None = exc.request
        except RuntimeError:
            request = None
        return kind(str(exc), request=request)

    class AioHttpClient(openai.DefaultAioHttpClient):
        async def send(self, request: httpx2.Request, **kwargs: Any) -> httpx2.Response:
            try:
                return await super().send(request, **kwargs)
            except httpx2.ConnectTimeout as exc:
                better = precise(exc)
                if better is None:
                    raise
                raise better from exc.__cause__

    return AioHttpClient
