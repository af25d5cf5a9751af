"""`eki serve` for real: a uvicorn process on the embedded SQLite default."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_eki_serve_starts_on_a_fresh_sqlite_and_answers(tmp_path: Path) -> None:
    port = _free_port()
    script = Path(sys.executable).with_name("eki")
    env = {**os.environ, "EKI_ADMIN_TOKEN": "serve-token", "EKI_LOG_LEVEL": "WARNING"}
    env.pop("EKI_DATABASE_URL", None)  # the default: ./eki.db in the working directory
    process = subprocess.Popen(
        [str(script), "serve", "--port", str(port)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    output = process.stdout.read().decode() if process.stdout else ""
                    raise AssertionError(f"eki serve did not start:\n{output}") from None
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        ready = httpx2.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        assert ready.status_code == 200, ready.text
        missing = httpx2.get(f"http://127.0.0.1:{port}/api/students/3001234567",
                             headers={"Authorization": "Bearer serve-token"}, timeout=5)
        assert missing.status_code == 404
        assert (tmp_path / "eki.db").exists()
    finally:
        process.terminate()
        process.wait(timeout=15)
        if process.stdout:
            process.stdout.close()
