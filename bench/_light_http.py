"""A minimal HTTP/1.1 server on asyncio (uvloop when installed) for the benchmarks' fakes.

The fake Graph API and the fake OpenAI server must cost little CPU next to the process being
measured: no ASGI framework, no per-request objects beyond the parsed request, keep-alive
connections, one request at a time per connection (what httpx/the openai SDK send). Each
request goes to ``handler(method, path, headers, body) -> (status, body_bytes)``; header names
are lower-cased bytes. Bounded: 64 KiB of headers, 8 MiB of body, else 413/431 and close.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

Handler = Callable[[str, str, dict[bytes, bytes], bytes], Awaitable[tuple[int, bytes]]]

MAX_HEADER = 64 * 1024
MAX_BODY = 8 * 1024 * 1024
REASONS = {200: b"OK", 400: b"Bad Request", 401: b"Unauthorized", 404: b"Not Found",
           413: b"Payload Too Large", 429: b"Too Many Requests", 431: b"Header Too Large",
           500: b"Internal Server Error"}


def dumps(data: object) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class _Connection(asyncio.Protocol):
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.busy = False
        self.closed = False
        self.task: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        """Parse one complete request from the buffer and serve it (one at a time)."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEADER:
                self._fail(431)
            return
        head = bytes(self.buffer[:end]).split(b"\r\n")
        try:
            method, target, _version = head[0].split(b" ", 2)
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get(b"content-length", b"0"))
        except ValueError:
            self._fail(400)
            return
        if length > MAX_BODY or length < 0:
            self._fail(413)
            return
        if len(self.buffer) < end + 4 + length:
            return
        body = bytes(self.buffer[end + 4:end + 4 + length])
        del self.buffer[:end + 4 + length]
        self.busy = True
        keep = headers.get(b"connection", b"").lower() != b"close"
        self.task = asyncio.ensure_future(self._serve(
            method.decode(), target.decode().split("?", 1)[0], headers, body, keep))

    async def _serve(self, method: str, path: str, headers: dict[bytes, bytes], body: bytes,
                     keep: bool) -> None:
        try:
            status, payload = await self.handler(method, path, headers, body)
        except Exception as exc:  # a fake answers 500, like a real server
            status, payload = 500, dumps({"error": {"message": repr(exc)[:200]}})
        if self.closed or self.transport is None:
            return
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\n%s\r\n" % (
                                 status, REASONS.get(status, b"OK"), len(payload),
                                 b"" if keep else b"connection: close\r\n") + payload)
        self.busy = False
        if not keep:
            self.transport.close()
        elif self.buffer:
            self._next()

    def _fail(self, status: int) -> None:
        if self.transport is not None:
            self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-length: 0\r\nconnection: close"
                                 b"\r\n\r\n" % (status, REASONS[status]))
            self.transport.close()
        self.buffer.clear()


def serve(host: str, port: int, handler: Handler) -> None:
    """Serve until SIGINT/SIGTERM kills the process (uvloop when installed)."""
    try:
        import uvloop
    except ImportError:  # the plain asyncio loop works, only slower
        uvloop = None  # type: ignore[assignment]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _Connection(handler), host, port,
                                          backlog=4096, reuse_address=True)
        async with server:
            await server.serve_forever()

    if uvloop is not None:
        uvloop.run(main())
    else:
        asyncio.run(main())
