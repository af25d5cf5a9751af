"""Access log with phones masked: paths like ``/api/students/+573001234567`` carry
personal data, so uvicorn's own access log is off and this one masks digit runs."""

from __future__ import annotations

import logging
import re
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("eki.access")
#: 7+ digits, maybe written with separators (``300 123 4567``, ``(300) 123-4567``,
#: ``300%20123%204567``) and a leading ``+``.
_LONG_NUMBER = re.compile(r"(?:\+|%2[Bb])?\d(?:(?:[ \-.()]|%20|%28|%29|%2[Dd])*\d){6,}")
_DIGIT = re.compile(r"\d")


#: One-time setup links carry their secret in the path: never logged.
_SETUP_LINK = re.compile(r"^(/admin/setup/)[^/]+")


def mask_path(path: str) -> str:
    """Keep the last 4 digits of any phone-like number: ``/api/students/***4567``; drop a
    setup link's token: ``/admin/setup/***``."""
    path = _SETUP_LINK.sub(r"\1***", path)
    return _LONG_NUMBER.sub(lambda m: "***" + "".join(_DIGIT.findall(m.group()))[-4:], path)


class AccessLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info("%s %s %d %.1fms", scope["method"], mask_path(scope["path"]), status,
                     (time.perf_counter() - started) * 1000)
