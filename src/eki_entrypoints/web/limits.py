"""Request body limits that answer 413 without buffering more than the limit."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message

from eki_entrypoints.web.errors import ApiError


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"request body is larger than {limit // (1024 * 1024)} MiB; send a smaller file "
        "or split it",
    )


def limited(request: Request, limit: int) -> Request:
    """A copy of ``request`` whose body stream raises ApiError(413) past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError:
            raise ApiError(400, "BAD_REQUEST", "invalid Content-Length header") from None
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
        return message

    return Request(request.scope, receive)


async def read_body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    async for chunk in limited(request, limit).stream():
        chunks.append(chunk)
    return b"".join(chunks)
