"""A tiny scripted Graph API server on 127.0.0.1 (real HTTP) for channel and pipeline tests."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TO = "573001234567"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict → JSON; bytes → as is; None → a success body
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class GraphStub:
    """A tiny Graph API: answers each request with the next scripted reply."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[Seen] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with stub.lock:
                    stub.requests.append(Seen("POST", self.path,
                                              {k.lower(): v for k, v in self.headers.items()},
                                              body))
                    reply = stub.script.pop(0) if stub.script else Reply()
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.body is None:
                    payload = json.dumps({
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": TO, "wa_id": TO}],
                        "messages": [{"id": f"wamid.OK{len(stub.requests)}"}],
                    }).encode()
                elif isinstance(reply.body, bytes):
                    payload = reply.body
                else:
                    payload = json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v25.0"
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def then(self, *replies: Reply) -> GraphStub:
        self.script.extend(replies)
        return self


def meta_error(code: int, message: str = "error", status_type: str = "OAuthException") -> dict:
    return {"error": {"message": message, "type": status_type, "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": message},
                      "fbtrace_id": "AbCdEf"}}


