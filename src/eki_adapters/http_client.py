"""The HTTP clients EKI's adapters call providers with: httpx2 on aiohttp, and a lighter
client straight on aiohttp for the channels' sends.

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

The channels (Meta, Twilio) send every reply and read receipt: two POSTs per turn. For them
:func:`channel_client` skips httpx2's request and response models and its transport layer
(0.29 instead of 0.53–0.67 ms of CPU per POST, 40 in flight against the benchmarks' fake Graph
API) and raises the same httpx2 exceptions. What the channels need of a client and of a
response is :class:`ProviderHttp` and :class:`ProviderResponse`; an ``httpx2.AsyncClient``
(e.g. on ``httpx2.MockTransport`` in tests) is one too.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import importlib.util
import json as jsonlib
import logging
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Self

import httpx2

if TYPE_CHECKING:
    import aiohttp

log = logging.getLogger("eki.http")

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
        kind = _transport_error(cause)
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


def _transport_error(cause: BaseException) -> type[httpx2.TransportError]:
    """The httpx2 exception that stands for an aiohttp error (both clients raise it)."""
    import aiohttp

    if isinstance(cause, aiohttp.ClientConnectorError):
        return httpx2.ConnectError
    if isinstance(cause, aiohttp.ServerDisconnectedError):
        return httpx2.RemoteProtocolError
    return httpx2.ReadError


class ProviderResponse(Protocol):
    """What a channel reads of a provider's answer (an ``httpx2.Response`` is one)."""

    @property
    def status_code(self) -> int: ...

    @property
    def is_success(self) -> bool: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    def json(self) -> Any: ...


class ProviderHttp(Protocol):
    """What a channel needs of its HTTP client (an ``httpx2.AsyncClient`` is one)."""

    async def post(self, url: str, *, json: Any = None, data: Any = None,
                   headers: Any = None, auth: Any = None,
                   timeout: Any = None) -> ProviderResponse:  # noqa: ASYNC109 - httpx2's
        ...

    async def aclose(self) -> None: ...


class LightResponse:
    """A provider's answer, read whole (bodies are small JSON documents)."""

    __slots__ = ("content", "headers", "status_code")

    def __init__(self, status_code: int, headers: Mapping[str, str], content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers  # case-insensitive (aiohttp's CIMultiDictProxy)
        self.content = content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def json(self) -> Any:
        return jsonlib.loads(self.content)


class ChannelClient:
    """POSTs on one aiohttp session (opened at the first call, in the running loop; up to
    :data:`PROVIDER_LIMITS` connections kept alive), failures raised as httpx2's
    exceptions with the aiohttp error as the cause. ``json`` is sent as compact UTF-8 JSON,
    ``data`` as a form, ``auth`` is a (user, password) pair for HTTP Basic. An answer's body
    is read up to :data:`MAX_ANSWER_BYTES`; a longer one comes back empty (its status
    kept), so a sent message is never retried for an answer EKI would not read."""

    follow_redirects = False

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._aiohttp: Any = None  # the module, imported at the first call
        self._default_timeout: aiohttp.ClientTimeout | None = None

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            import aiohttp

            limit = PROVIDER_LIMITS.max_connections or 100
            expiry = PROVIDER_LIMITS.keepalive_expiry or 30.0
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit, keepalive_timeout=expiry))
            self._loop = loop
            self._aiohttp = aiohttp
            self._default_timeout = aiohttp.ClientTimeout(total=self.timeout)
        return self._session

    async def post(self, url: str, *, json: Any = None, data: Any = None,
                   headers: Any = None, auth: Any = None,
                   timeout: Any = None) -> LightResponse:  # noqa: ASYNC109 - httpx2's
        session = self._open()
        aiohttp = self._aiohttp
        sent = dict(headers or {})
        body: Any = data
        if json is not None:
            body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
            sent.setdefault("Content-Type", "application/json")
        if auth is not None:
            user, password = auth
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            sent["Authorization"] = f"Basic {token}"
        limit = self._default_timeout
        assert limit is not None  # set by _open
        if isinstance(timeout, int | float) and timeout != self.timeout:
            limit = aiohttp.ClientTimeout(total=float(timeout))
        try:
            async with session.post(url, data=body, headers=sent, timeout=limit,
                                    allow_redirects=False) as response:
                return LightResponse(response.status, response.headers,
                                     await _bounded_body(response))
        except TimeoutError as exc:
            raise httpx2.ReadTimeout(f"no answer within {limit.total} s") from exc
        except aiohttp.ClientError as exc:
            raise _transport_error(exc)(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()


#: The most of a provider's answer a channel reads (Meta's and Twilio's are a few hundred
#: bytes; an error page, a few KB).
MAX_ANSWER_BYTES = 256 * 1024


async def _bounded_body(response: aiohttp.ClientResponse) -> bytes:
    """The answer's body, or b"" when it is longer than :data:`MAX_ANSWER_BYTES` once
    unpacked (aiohttp unpacks gzip and deflate: a compressed answer's Content-Length says
    nothing of its size, so only a plain one is read whole on its word)."""
    length = response.content_length
    if (length is not None and length <= MAX_ANSWER_BYTES
            and response.headers.get("Content-Encoding", "identity") == "identity"):
        return await response.read()
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            log.warning("a provider's answer (HTTP %d) is longer than %d bytes: not read",
                        response.status, MAX_ANSWER_BYTES)
            return b""
    return bytes(body)


def channel_client(timeout: float) -> ProviderHttp:
    """The client a channel sends with when it is given none: :class:`ChannelClient` when
    aiohttp is installed, else an ``httpx2.AsyncClient``."""
    if aiohttp_available():
        return ChannelClient(timeout)
    return httpx2.AsyncClient(timeout=timeout, limits=PROVIDER_LIMITS, follow_redirects=False)
