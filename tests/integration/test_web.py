"""The web app over real SQLite and PostgreSQL, through Starlette's TestClient."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app

TOKEN = "test-admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, admin_token=Secret(TOKEN))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def register(client: TestClient, name: str, phone: str, **kwargs: object) -> None:
    registry = client.app.state.eki.registration  # type: ignore[attr-defined]
    client.portal.call(lambda: registry.register(name, phone, **kwargs))  # type: ignore[union-attr]


def test_only_a_process_that_runs_turns_trains_the_intent_model(sqlite_url: str) -> None:
    """``eki serve --no-worker`` answers webhooks and never classifies a message: it must
    not spend ~2 s of CPU training the classifier (it did, during its first deliveries)."""
    for run_worker in (False, True):
        with TestClient(create_app(Settings(database_url=sqlite_url),
                                   run_worker=run_worker)) as client:
            classifier = client.app.state.eki.assistant._classifier  # type: ignore[attr-defined]
            warming = classifier.ready or classifier._warming is not None
            assert warming is run_worker


def test_healthz_and_readyz(database_url: str) -> None:
    settings = Settings(database_url=database_url, admin_token=Secret(TOKEN))
    with TestClient(create_app(settings, run_worker=True)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        for _ in range(50):  # the worker's first heartbeat is written as it starts
            if ready.status_code == 200:
                break
            time.sleep(0.05)
            ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ok" and body["failed"] == []
    checks = body["checks"]
    assert checks["database"]["ok"] and checks["migrations"]["ok"]
    assert checks["worker"]["ok"] and checks["worker"]["alive"] == 1
    assert checks["queue"] == {"ok": True, "inbox_pending": 0, "inbox_oldest_seconds": 0.0,
                               "outbox_pending": 0, "outbox_oldest_seconds": 0.0}


def test_get_student_by_phone_in_any_format(client: TestClient) -> None:
    register(client, "Ana Pérez", "3001234567", tags=["Grado 10"])
    for spelling in ("+573001234567", "3001234567", "573001234567", "300%20123%204567"):
        response = client.get(f"/api/students/{spelling}", headers=AUTH)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["name"] == "Ana Pérez"
        assert body["phone"] == "+573001234567"
        assert body["wa_id"] == "573001234567"
        assert body["tags"] == ["grado 10"]
        assert body["active"] is True


def test_unknown_and_invalid_phones(client: TestClient) -> None:
    missing = client.get("/api/students/3109876543", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "STUDENT_NOT_FOUND"
    invalid = client.get("/api/students/12", headers=AUTH)
    assert invalid.status_code == 422
    assert invalid.json()["error"]["code"] in {"TOO_SHORT", "INVALID_LENGTH", "INVALID_NUMBER"}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
     {"Authorization": f"Basic {TOKEN}"}],
)
def test_api_requires_the_admin_token(client: TestClient, headers: dict[str, str]) -> None:
    register(client, "Ana", "3001234567")
    response = client.get("/api/students/3001234567", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Ana" not in response.text


def test_api_refuses_everything_when_no_token_is_configured(database_url: str) -> None:
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        response = client.get("/api/students/3001234567", headers=AUTH)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "ADMIN_API_DISABLED"


def test_readyz_fails_when_schema_is_behind(tmp_path: Path) -> None:
    path = tmp_path / "behind.db"
    settings = Settings(database_url=f"sqlite:///{path}")
    with TestClient(create_app(settings)) as client:  # auto-upgrades the embedded SQLite
        eki = client.app.state.eki  # type: ignore[attr-defined]

        async def downgrade_marker() -> None:
            async with eki.engine.begin() as conn:
                await conn.execute(sa.text("DELETE FROM alembic_version"))

        client.portal.call(downgrade_marker)  # type: ignore[union-attr]
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert "eki db upgrade" in body["checks"]["migrations"]["error"]


def test_readyz_fails_when_database_is_unreachable() -> None:
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/nothing")
    eki = asyncio.run(bootstrap(settings))  # nothing connects until asked
    with TestClient(create_app(settings, eki=eki)) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503
    assert response.json()["failed"] == ["database", "migrations"]


def test_access_log_masks_phone_numbers(client: TestClient,
                                        caplog: pytest.LogCaptureFixture) -> None:
    from eki_entrypoints.web.access_log import mask_path

    assert mask_path("/api/students/+573001234567/messages") == "/api/students/***4567/messages"
    assert mask_path("/api/students/%2B573001234567") == "/api/students/***4567"
    with caplog.at_level("INFO", logger="eki.access"):
        client.get("/api/students/573001234567", headers=AUTH)
    lines = [r.getMessage() for r in caplog.records if r.name == "eki.access"]
    assert lines and "GET /api/students/***4567 404" in lines[-1]
    assert "3001234567" not in caplog.text
