"""`eki serve` for real with EKI_CHANNEL=twilio: a uvicorn process behind a (pretend)
proxy, the channel built from the environment, the fake Twilio API on 127.0.0.1."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx2

from eki_testing import twilio as tw
from eki_testing.twilio import FakeTwilioServer
from tests.integration.processes import eki_serve

PUBLIC = "https://eki.colegio.example"


def test_eki_serve_answers_over_twilio(tmp_path: Path, twilio: FakeTwilioServer) -> None:
    env = {**os.environ, "EKI_LOG_LEVEL": "WARNING", "EKI_CHANNEL": "twilio",
           "EKI_TWILIO_ACCOUNT_SID": tw.ACCOUNT_SID, "EKI_TWILIO_AUTH_TOKEN": tw.AUTH_TOKEN,
           "EKI_TWILIO_FROM": tw.FROM, "EKI_TWILIO_API_URL": twilio.url,
           "EKI_PUBLIC_URL": PUBLIC}
    env.pop("EKI_DATABASE_URL", None)
    with eki_serve(tmp_path, env) as served:
        base = served.url
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
