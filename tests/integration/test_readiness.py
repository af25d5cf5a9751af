"""``GET /readyz`` beyond the database: a worker alive (in this process or another one,
through the heartbeats table) and a queue that is not stuck; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx2
import pytest
from starlette.testclient import TestClient

from eki_adapters.system import FixedClock
from eki_adapters.whatsapp import ConsoleChannel
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app
from eki_testing import meta
from tests.integration.processes import free_port

SECRET = "app-secret"


METRICS = "readiness-metrics-token-0123456789abcdef"

def ready(client: TestClient | httpx2.Client) -> httpx2.Response:
    return client.get("/readyz")  # type: ignore[return-value]


def test_a_web_process_without_any_worker_is_not_ready(database_url: str) -> None:
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        response = ready(client)
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["worker"]
    assert body["checks"]["worker"]["alive"] == 0
    assert "eki worker" in body["checks"]["worker"]["error"]
    assert body["checks"]["queue"]["ok"] is True


def test_a_separate_eki_worker_process_makes_the_web_process_ready(database_url: str) -> None:
    port = free_port()
    env = {**os.environ, "EKI_DATABASE_URL": database_url, "EKI_LOG_LEVEL": "INFO",
           "EKI_LOG_FORMAT": "json", "EKI_METRICS_TOKEN": METRICS}
    script = Path(sys.executable).with_name("eki")
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        assert ready(client).status_code == 503
        worker = subprocess.Popen(
            [str(script), "worker", "--concurrency", "2", "--metrics-port", str(port)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            response = ready(client)
            while response.status_code != 200 and time.monotonic() < deadline:
                assert worker.poll() is None, worker.stderr.read().decode()  # type: ignore[union-attr]
                time.sleep(0.2)
                response = ready(client)
            assert response.status_code == 200, response.text
            assert response.json()["checks"]["worker"]["alive"] == 1
            # The worker's own counters, on its --metrics-port, behind the metrics token.
            url = f"http://127.0.0.1:{port}/metrics"
            assert httpx2.get(url, timeout=5).status_code == 401
            scraped = httpx2.get(url, headers={"Authorization": f"Bearer {METRICS}"}, timeout=5)
            assert scraped.status_code == 200
            assert "eki_workers_alive 1.0" in scraped.text
            assert scraped.headers["x-content-type-options"] == "nosniff"
        finally:
            worker.send_signal(signal.SIGINT)  # Ctrl+C: the worker stops and says goodbye
            _, errors = worker.communicate(timeout=30)
        assert worker.returncode == 130, errors.decode()  # the usual exit code of Ctrl+C
        gone = ready(client)
    assert gone.status_code == 503 and gone.json()["failed"] == ["worker"]
    # The worker's log: one JSON object per line.
    lines = [line for line in errors.decode().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert any(e["logger"] == "eki.worker" and e["message"].startswith("worker started")
               for e in entries), errors.decode()


def test_a_stuck_queue_fails_readiness(database_url: str) -> None:
    clock = FixedClock()
    settings = Settings(database_url=database_url, whatsapp_app_secret=Secret(SECRET),
                        readyz_queue_max_age=600)

    eki = asyncio.run(bootstrap(settings, clock=clock, channel=ConsoleChannel(name="meta")))
    with TestClient(create_app(settings, eki=eki)) as client:
        client.portal.call(eki.operations.beat, "worker-1")  # type: ignore[union-attr]
        body = meta.encode(meta.text_message("573001234567", "hola"))
        assert client.post("/webhooks/whatsapp", content=body, headers={
            "X-Hub-Signature-256": meta.sign(body, SECRET)}).status_code == 200
        fresh = ready(client).json()
        assert fresh["failed"] == [] and fresh["checks"]["queue"]["inbox_pending"] == 1
        clock.advance(timedelta(seconds=700))
        client.portal.call(eki.operations.beat, "worker-1")  # type: ignore[union-attr]
        stuck = ready(client)
        clock.advance(timedelta(minutes=2))  # and no heartbeat meanwhile: no worker either
        silent = ready(client).json()
    assert stuck.status_code == 503
    report = stuck.json()
    assert report["failed"] == ["queue"]
    assert report["checks"]["queue"]["inbox_oldest_seconds"] == 700.0
    assert "inbox message is 700 s old (limit 600 s)" in report["checks"]["queue"]["error"]
    assert silent["failed"] == ["worker", "queue"]
    asyncio.run(eki.aclose())


@pytest.mark.postgres
def test_readiness_fails_when_the_database_goes_down(postgres_url: str) -> None:
    """A running, ready process whose PostgreSQL database disappears (dropped with its
    connections) reports "database" failed — and /healthz stays 200 (the process lives)."""
    import secrets as _secrets

    import psycopg
    from sqlalchemy.engine import make_url

    from tests.conftest import ADMIN_URL, _conninfo, _migrate, _run

    name = f"eki_readyz_{_secrets.token_hex(4)}"
    with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    try:
        _run(_migrate(url))
        with TestClient(create_app(Settings(database_url=url), run_worker=True)) as client:
            deadline = time.monotonic() + 15
            while ready(client).status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.2)  # the worker's first heartbeat
            assert ready(client).status_code == 200
            with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            response = ready(client)
            assert client.get("/healthz").status_code == 200
        assert response.status_code == 503
        body = response.json()
        assert "database" in body["failed"]
        assert body["checks"]["database"]["ok"] is False
    finally:
        with psycopg.connect(_conninfo(ADMIN_URL), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
