"""A scripted HTTP server on 127.0.0.1 (real sockets, a background thread).

The base of every fake provider in :mod:`eki_testing` (Graph API, Twilio,
OpenAI): each request is recorded, then answered with the next step of a script; an empty
script answers with the server's :meth:`~ScriptedHTTPServer.default_step`. ``latency``
seconds delay every answer (on top of a step's own ``delay``).

A step is a :class:`Reply` (status, body, headers, delay), a ``dict`` (a 200 JSON body),
an ``httpx2.Response``, :data:`DROP` (close the connection without answering), or a
function of the :class:`Recorded` request returning one of those.

Nothing starts at import time: ``start()`` (or ``with server:``) binds a free port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs

import httpx2

__all__ = ["DROP", "Recorded", "Reply", "ScriptedHTTPServer", "Step", "slow"]


@dataclass
class Reply:
    """One scripted answer. ``body``: dict/list → JSON; bytes/str → as is; None → the
    server's success body. ``delay`` seconds pass before answering (latency, timeouts)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


def slow(seconds: float, then: Reply | None = None) -> Reply:
    """Answer (successfully, or like ``then``) after ``seconds``."""
    base = then or Reply()
    return dataclass_replace(base, delay=seconds)


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


#: A step that closes the connection without any answer (a network failure).
DROP: Any = _Drop()

Step = Reply | Mapping[str, Any] | httpx2.Response | _Drop | Callable[["Recorded"], Any]


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    #: The status the server answered with (None until answered, and for DROP).
    status: int | None = None

    @property
    def json(self) -> Any:
        """The body parsed as JSON (``{}`` when empty)."""
        return json.loads(self.body) if self.body else {}

    @property
    def form(self) -> dict[str, str]:
        """The body parsed as an HTML form (the last value of each field)."""
        return {k: v[-1] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


class _CountingServer(ThreadingHTTPServer):
    """Calls ``on_connection`` for every accepted connection; takes bursts of connections
    (the standard library's backlog of 5 made clients wait or fail under 50 at once);
    knows its open connections, to shut them down (:meth:`close_connections`)."""

    request_queue_size = 128
    on_connection: Callable[[], None] = staticmethod(lambda: None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.on_connection()
        with self._open_lock:
            self._open.add(request)
        return True

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> int:
        """Shut every open connection down: a handler thread waiting for the next request
        on an idle keep-alive connection reads end-of-file and ends. Returns how many."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        return len(sockets)


class ScriptedHTTPServer:
    """Answers each request with the next scripted step and records it.

    Subclasses set :attr:`base_path` (prefix of :attr:`url`) and override
    :meth:`success_body` (the body of a ``Reply()`` without one), :meth:`default_step`
    (what an empty script answers), and when they need to, :meth:`guard` (answers that
    come before the script: wrong path, bad credentials) and :meth:`complete` (the final
    say on a scripted reply: validate the request, record what was accepted)."""

    base_path: ClassVar[str] = ""

    def __init__(self, *steps: Step) -> None:
        self.script: list[Step] = list(steps)
        self.requests: list[Recorded] = []
        #: Requests answered by :meth:`default_step` because the script was empty.
        self.unscripted = 0
        #: Seconds added before every answer (guarded, scripted or default).
        self.latency = 0.0
        #: TCP connections accepted since the start or the last :meth:`reset` (a client
        #: that keeps its connections alive opens few; one that drops them, one per request).
        self.connections = 0
        self.lock = threading.Lock()
        self._server: _CountingServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = _CountingServer(("127.0.0.1", 0), self._handler_class())
        self._server.on_connection = self._count_connection
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True,
                                        name=f"{type(self).__name__}-{self.port}")
        self._thread.start()
        return self

    def _count_connection(self) -> None:
        with self.lock:
            self.connections += 1

    def close_connections(self) -> int:
        """Close every connection clients hold open (idle keep-alive ones included); they
        reconnect on their next request. Returns how many were open."""
        return 0 if self._server is None else self._server.close_connections()

    def stop(self) -> None:
        """Stop accepting, shut the open connections down, then wait for the handler
        threads (which no idle keep-alive connection can hold any more)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started: call start() first")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The base URL to give the client under test (origin + :attr:`base_path`)."""
        return self.origin + self.base_path

    # -- scripting ------------------------------------------------------------------------

    def then(self, *steps: Step) -> Self:
        """Append steps to the script (chainable)."""
        with self.lock:
            self.script.extend(steps)
        return self

    def reset(self) -> Self:
        """Forget the script, the latency, every recorded request and the connection count
        (chainable)."""
        with self.lock:
            self.script.clear()
            self.requests.clear()
            self.unscripted = 0
            self.connections = 0
            self.latency = 0.0
        return self

    @property
    def pending(self) -> int:
        """Steps not used yet."""
        with self.lock:
            return len(self.script)

    def wait_for(self, predicate: Callable[[list[Recorded]], bool], *,
                 timeout: float = 10.0, what: str = "the expected requests") -> list[Recorded]:
        """Poll the recorded requests until ``predicate(requests)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                seen = list(self.requests)
            if predicate(seen):
                return seen
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{type(self).__name__}: {what} did not arrive within {timeout:g}s; "
                    f"it received {len(seen)} request(s): "
                    + "; ".join(f"{r.method} {r.path}" for r in seen[-10:]))
            time.sleep(0.02)

    # -- hooks for subclasses -------------------------------------------------------------

    def success_body(self, request: Recorded, index: int) -> Any:
        """The body of a successful answer (``Reply()`` with no body)."""
        return {}

    def default_step(self, request: Recorded) -> Step:
        """What an empty script answers: success by default."""
        return Reply()

    def guard(self, request: Recorded) -> Step | None:
        """An answer given *before* the script is consulted (and without using a step),
        e.g. 404 for an unknown path or 401 for bad credentials; None to go on."""
        return None

    def complete(self, reply: Reply, request: Recorded, index: int) -> Reply:
        """The reply actually sent for a scripted or default ``reply``: by default, a
        missing body becomes :meth:`success_body`. Called on the serving thread."""
        if reply.body is None:
            return dataclass_replace(reply, body=self.success_body(request, index))
        return reply

    # -- serving ----------------------------------------------------------------------------

    def _next_step(self, request: Recorded) -> tuple[Step, int]:
        guarded = self.guard(request)
        with self.lock:
            self.requests.append(request)
            index = len(self.requests)
            if guarded is not None:
                return guarded, index
            if self.script:
                return self.script.pop(0), index
            self.unscripted += 1
        return self.default_step(request), index

    def _resolve(self, step: Step, request: Recorded, index: int
                 ) -> tuple[int, bytes, dict[str, str], float] | None:
        while callable(step) and not isinstance(step, Reply | httpx2.Response | _Drop):
            step = step(request)
        if isinstance(step, _Drop):
            return None
        if isinstance(step, httpx2.Response):
            headers = {k: v for k, v in step.headers.items()
                       if k.lower() not in ("content-length", "transfer-encoding")}
            return step.status_code, step.content, headers, 0.0
        reply = step if isinstance(step, Reply) else Reply(200, dict(step))
        reply = self.complete(reply, request, index)
        body = reply.body
        if isinstance(body, bytes):
            payload = body
        elif isinstance(body, str):
            payload = body.encode()
        else:
            payload = json.dumps(body).encode()
        return reply.status, payload, dict(reply.headers), reply.delay

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                request = Recorded(self.command, self.path,
                                   {k.lower(): v for k, v in self.headers.items()}, body)
                step, index = server._next_step(request)
                answer = server._resolve(step, request, index)
                if answer is None:  # DROP: no response at all
                    self.close_connection = True
                    return
                status, payload, headers, delay = answer
                delay += server.latency
                if delay:
                    time.sleep(delay)
                try:
                    self.send_response(status)
                    if not any(k.lower() == "content-type" for k in headers):
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                    self.wfile.flush()
                    request.status = status
                except OSError:  # the client gave up (a timeout test)
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __iter__(self) -> Iterator[Recorded]:
        with self.lock:
            return iter(list(self.requests))
