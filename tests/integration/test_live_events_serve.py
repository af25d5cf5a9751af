"""Live events in a real `eki serve` process on SQLite (web and worker in one process): a
signed webhook and the worker's reply reach an open ``/api/events`` stream, and SIGTERM
stops the server at once although the stream is open (it is ended, not waited for)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx2

from eki_testing import meta
from tests.integration.processes import eki_serve

TOKEN = "serve-live-token-0123456789abcdefghijkl"
SECRET = "serve-live-secret"
#: This checkout's code in the child process (a relative PYTHONPATH=src would not follow
#: it into its working directory).
SRC = str(Path(__file__).resolve().parents[2] / "src")


def test_a_stream_on_eki_serve_sees_the_conversation_and_does_not_hold_shutdown(
        tmp_path: Path) -> None:
    env = {**os.environ, "EKI_ADMIN_TOKEN": TOKEN, "EKI_WHATSAPP_APP_SECRET": SECRET,
           "EKI_LOG_LEVEL": "WARNING", "EKI_DATABASE_URL": f"sqlite:///{tmp_path / 'eki.db'}",
           "PYTHONPATH": os.pathsep.join([SRC, *filter(None, [os.environ.get("PYTHONPATH")])])}
    with eki_serve(tmp_path, env) as served, httpx2.stream(
            "GET", f"{served.url}/api/events", headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=httpx2.Timeout(10, read=30)) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert next(lines).startswith("retry: ")
        body = meta.encode(meta.text_message("573001234567", "hola", wamid="wamid.SERVE1"))
        stored = httpx2.post(f"{served.url}/webhooks/whatsapp", content=body,
                             headers=meta.signed_headers(body, SECRET), timeout=5)
        assert stored.status_code == 200
        kinds: list[str] = []
        for line in lines:  # the message, the reply queued, then sent (console channel)
            if line.startswith("data: "):
                event = json.loads(line[len("data: "):])
                assert event["phone"] == "+573001234567"
                kinds.append(event["type"])
                if event["type"] == "message.sent":
                    break
        assert kinds[0] == "message.received" and kinds[-1] == "message.sent", kinds
        stopping = time.monotonic()
        served.process.send_signal(signal.SIGTERM)
        served.process.wait(timeout=10)  # an open stream would hold it forever
        assert time.monotonic() - stopping < 5
        assert "event: reset" in list(lines)  # the server ended the stream
    # uvicorn re-raises the signal it handled once it stopped cleanly
    assert served.process.returncode == -signal.SIGTERM, served.output()
    assert "Traceback" not in served.output()
