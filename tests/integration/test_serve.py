"""`eki serve` for real: a uvicorn process on the embedded SQLite default."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import httpx2
import pytest

from eki_testing import meta
from tests.integration.processes import eki_serve

SERVE_TOKEN = "serve-token-0123456789abcdefghijklmnop"

def test_eki_serve_starts_on_a_fresh_sqlite_and_answers(tmp_path: Path) -> None:
    env = {**os.environ, "EKI_ADMIN_TOKEN": SERVE_TOKEN, "EKI_LOG_LEVEL": "WARNING"}
    env.pop("EKI_DATABASE_URL", None)  # the default: ./eki.db in the working directory
    with eki_serve(tmp_path, env) as served:
        health = httpx2.get(f"{served.url}/healthz", timeout=5)
        assert health.json() == {"status": "ok"}
        ready = httpx2.get(f"{served.url}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        missing = httpx2.get(f"{served.url}/api/students/3001234567",
                             headers={"Authorization": f"Bearer {SERVE_TOKEN}"}, timeout=5)
        assert missing.status_code == 404
        assert (tmp_path / "eki.db").exists()


@pytest.mark.parametrize("loop", ["auto", "asyncio"])
def test_eki_serve_on_each_event_loop_takes_webhooks_and_caps_bodies(
        tmp_path: Path, loop: str) -> None:
    """uvicorn with httptools, on uvloop (the default) or the standard loop: a signed
    webhook is stored and answered, an oversize body is refused with 413."""
    secret = "loop-secret"
    env = {**os.environ, "EKI_LOG_LEVEL": "INFO", "EKI_LOG_FORMAT": "text",
           "EKI_EVENT_LOOP": loop, "EKI_WHATSAPP_APP_SECRET": secret,
           "EKI_DATABASE_URL": f"sqlite:///{tmp_path / 'eki.db'}"}
    with eki_serve(tmp_path, env) as served:
        body = meta.encode(meta.text_message("573001234567", "hola", wamid="wamid.LOOP1"))
        stored = httpx2.post(f"{served.url}/webhooks/whatsapp", content=body,
                             headers=meta.signed_headers(body, secret), timeout=5)
        assert stored.status_code == 200, stored.text
        huge = b"{" + b" " * (3 * 1024 * 1024) + b"}"
        refused = httpx2.post(f"{served.url}/webhooks/whatsapp", content=huge,
                              headers=meta.signed_headers(huge, secret), timeout=10)
        assert refused.status_code == 413
        deadline = time.monotonic() + 20
        with sqlite3.connect(tmp_path / "eki.db") as db:
            while time.monotonic() < deadline:
                state = db.execute("SELECT state FROM inbound_messages").fetchall()
                if state == [("done",)]:
                    break
                time.sleep(0.1)
        assert state == [("done",)]  # the worker answered (unknown sender: a polite reply)
    expected = "uvloop" if loop == "auto" else "asyncio"
    assert f"event loop {expected}, HTTP parser httptools" in served.output()
