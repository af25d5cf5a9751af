"""Request body limits that answer 413 without buffering more than the limit.

Bodies of requests not yet authenticated (webhooks before their signature is checked, the
sign-in form) also share one :class:`BodyBudget` per process
(``EKI_UNSIGNED_BODY_BUDGET_MB``): past it a new chunk is refused with 503 and
``Retry-After`` instead of the server growing. Every body must arrive within
``EKI_BODY_READ_TIMEOUT`` seconds, else 408 — so connections that send all but the last
byte and wait cannot pin memory for ever.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from eki_entrypoints.settings import Settings
from eki_entrypoints.web.errors import ApiError

security_log = logging.getLogger("eki.security")


class BodyBudget:
    """Bytes buffered at once over every unauthenticated request body of this process."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0

    def reserve(self, size: int) -> bool:
        if self.used + size > self.total:
            return False
        self.used += size
        return True

    def release(self, size: int) -> None:
        self.used = max(0, self.used - size)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "PAYLOAD_TOO_LARGE",
        f"request body is larger than {limit // (1024 * 1024)} MiB; send a smaller file "
        "or split it",
    )


def _busy() -> ApiError:
    return ApiError(503, "BUSY", "too many request bodies in flight; retry shortly",
                    headers={"Retry-After": "5"})


def _timed_out(seconds: float) -> ApiError:
    return ApiError(408, "REQUEST_TIMEOUT",
                    f"the request body did not arrive within {seconds:g} seconds")


class _Reservation:
    """What one request holds of the budget (released when its body has been read)."""

    def __init__(self, budget: BodyBudget | None) -> None:
        self.budget = budget
        self.held = 0

    def take(self, size: int) -> None:
        if self.budget is None or size == 0:
            return
        if not self.budget.reserve(size):
            security_log.warning("unauthenticated body budget exhausted (%d bytes in use)",
                                 self.budget.used)
            raise _busy()
        self.held += size

    def release(self) -> None:
        if self.budget is not None:
            self.budget.release(self.held)
        self.held = 0


def limited(request: Request, limit: int, *,
            reservation: _Reservation | None = None) -> Request:
    """A copy of ``request`` whose body stream raises ApiError(413) past ``limit`` bytes,
    408 when the body has not arrived within the read timeout, and — with a
    ``reservation`` of the unauthenticated budget — 503 when that budget is spent."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise _too_large(limit)
        except ValueError:
            raise ApiError(400, "BAD_REQUEST", "invalid Content-Length header") from None
    settings: Settings = request.app.state.settings
    timeout = settings.body_read_timeout
    held = reservation if reservation is not None else _Reservation(None)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    received = 0

    async def receive() -> Message:
        nonlocal received
        try:
            async with asyncio.timeout_at(deadline):
                message = await request.receive()
        except TimeoutError:
            held.release()
            raise _timed_out(timeout) from None
        if message["type"] == "http.request":
            size = len(message.get("body", b""))
            received += size
            if received > limit:
                held.release()
                raise _too_large(limit)
            held.take(size)
        return message

    return Request(request.scope, receive)


def body_reservation(request: Request) -> _Reservation:
    """A reservation of the unauthenticated budget, for :func:`limited` callers that read
    a form; release it once the form is parsed."""
    return _Reservation(request.app.state.body_budget)


async def read_body(request: Request, limit: int, *, unauthenticated: bool = True) -> bytes:
    """The whole body, at most ``limit`` bytes. Bodies are unauthenticated by default
    (webhooks read theirs before checking the signature): they count against the budget
    while they arrive."""
    held = _Reservation(request.app.state.body_budget if unauthenticated else None)
    chunks: list[bytes] = []
    try:
        async for chunk in limited(request, limit, reservation=held).stream():
            chunks.append(chunk)
    except ClientDisconnect:
        raise ApiError(400, "BAD_REQUEST", "the client went away before sending the body"
                       ) from None
    finally:
        held.release()
    return b"".join(chunks)


async def json_object(request: Request, limit: int) -> dict[str, Any]:
    """An authenticated /api request's JSON object body, at most ``limit`` bytes (413
    beyond); anything else — not JSON, not an object, nested too deep — is a 400."""
    body = await read_body(request, limit, unauthenticated=False)
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "BAD_JSON", "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise ApiError(400, "BAD_JSON", "the body must be a JSON object")
    return data
