"""`eki serve` for real with EKI_CHANNEL=twilio: a uvicorn process behind a (pretend)
proxy, the channel built from the environment, the fake Twilio API on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from eki_entrypoints.testing import twilio as tw
from eki_entrypoints.testing.twilio import FakeTwilioServer

PUBLIC = "https://eki.colegio.example"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_eki_serve_answers_over_twilio(tmp_path: Path, twilio: FakeTwilioServer) -> None:
    port = _free_port()
    script = Path(sys.executable).with_name("eki")
    env = {**os.environ, "EKI_LOG_LEVEL": "WARNING", "EKI_CHANNEL": "twilio",
           "EKI_TWILIO_ACCOUNT_SID": tw.ACCOUNT_SID, "EKI_TWILIO_AUTH_TOKEN": tw.AUTH_TOKEN,
           "EKI_TWILIO_FROM": tw.FROM, "EKI_TWILIO_API_URL": twilio.url,
           "EKI_PUBLIC_URL": PUBLIC}
    env.pop("EKI_DATABASE_URL", None)
    process = subprocess.Popen(
        [str(script), "serve", "--port", str(port)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{base}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise AssertionError(f"eki serve did not start:\n{output}") from None
                time.sleep(0.2)
        form = tw.text_message("573109999999", "hola")
        request = tw.signed_post(form, url=f"{base}/webhooks/twilio",
                                 signed_url=f"{PUBLIC}/webhooks/twilio")
        response = httpx2.post(request.url, content=request.body, headers=request.headers,
                               timeout=5)
        assert response.status_code == 200, response.text
        assert "<Response>" in response.text
        deadline = time.monotonic() + 20
        while not twilio.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        (sent,) = twilio.messages
        assert sent.to == "whatsapp:+573109999999" and sent.from_ == tw.FROM
        assert sent.status_callback == f"{PUBLIC}/webhooks/twilio/status"
        callback = tw.signed_post(twilio.status_callback_for(sent, "delivered"),
                                  url=f"{base}/webhooks/twilio/status",
                                  signed_url=f"{PUBLIC}/webhooks/twilio/status")
        assert httpx2.post(callback.url, content=callback.body, headers=callback.headers,
                           timeout=5).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout:
            process.stdout.close()
