"""EKI_REDIS_URL pointing at a Redis that does not answer: the web app still serves, and
still limits — per process — with a WARNING (rate-limited) instead of refusing everyone."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web import create_app

TOKEN = "outage-token-0123456789abcdefghijklmn"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_the_api_answers_and_limits_per_process_while_redis_is_down(
        sqlite_url: str, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(database_url=sqlite_url, admin_token=Secret(TOKEN), rate_limit_api=3,
                        redis_url=Secret("redis://127.0.0.1:1/0"))
    with caplog.at_level(logging.WARNING, logger="eki.redis"), \
            TestClient(create_app(settings)) as client:
        statuses = [client.get("/api/imports", headers=AUTH).status_code for _ in range(4)]
        assert client.get("/healthz").status_code == 200
    assert statuses == [200, 200, 200, 429]
    warnings = [r.getMessage() for r in caplog.records if r.name == "eki.redis"]
    assert len(warnings) == 1 and "Redis is unavailable" in warnings[0]
