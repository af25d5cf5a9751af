"""Two real `eki serve` processes sharing one Redis (EKI_REDIS_URL) and one database: they
enforce ONE rate limit, not two, and a report cached by one is dropped when the other
imports grades."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx2
import redis.asyncio as aioredis

from tests.integration.processes import Served, eki_serve
from tests.integration.redis_server import random_prefix, redis_url_or_skip

TOKEN = "shared-state-token-0123456789abcdefghij"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ANA = "3001234567"


async def _keys(url: str, prefix: str) -> list[bytes]:
    client = aioredis.Redis.from_url(url)
    try:
        return sorted([key async for key in client.scan_iter(match=f"{prefix}*")])
    finally:
        await client.aclose()


async def _delete(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


def keys(url: str, prefix: str) -> list[bytes]:
    return asyncio.run(_keys(url, prefix))


@contextmanager
def two_processes(tmp_path: Path, **settings: str) -> Iterator[tuple[Served, Served, str, str]]:
    """Two `eki serve` on one SQLite file and one Redis (a random key prefix, deleted
    afterwards); the second starts once the first has migrated the database."""
    url = redis_url_or_skip()
    prefix = random_prefix()
    env = {**os.environ, "EKI_ADMIN_TOKEN": TOKEN, "EKI_LOG_LEVEL": "WARNING",
           "EKI_DATABASE_URL": f"sqlite:///{tmp_path / 'eki.db'}",
           "EKI_REDIS_URL": url, "EKI_REDIS_PREFIX": prefix, **settings}
    try:
        with ExitStack() as stack:
            first = stack.enter_context(eki_serve(tmp_path, env))
            second = stack.enter_context(eki_serve(tmp_path, env))
            yield first, second, url, prefix
    finally:
        asyncio.run(_delete(url, prefix))


def test_two_processes_enforce_one_api_limit(tmp_path: Path) -> None:
    with two_processes(tmp_path, EKI_RATE_LIMIT_API="10") as (first, second, url, prefix):
        statuses = [httpx2.get(f"{served.url}/api/imports", headers=AUTH, timeout=10)
                    .status_code for served in [first, second] * 5]
        assert statuses == [200] * 10
        over = httpx2.get(f"{first.url}/api/imports", headers=AUTH, timeout=10)
        assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
        assert over.json()["error"]["code"] == "RATE_LIMITED"
        assert httpx2.get(f"{second.url}/api/imports", headers=AUTH,
                          timeout=10).status_code == 429
        assert any(key.startswith(f"{prefix}w:rate:api:".encode())
                   for key in keys(url, prefix))
        # /healthz is not an /api route: never limited
        assert httpx2.get(f"{second.url}/healthz", timeout=10).status_code == 200


def _grades(*rows: tuple[str, str, str]) -> bytes:
    lines = ["telefono;curso;actividad;nota"]
    lines += [f"{ANA};{course};{title};{score}" for course, title, score in rows]
    return ("\n".join(lines) + "\n").encode()


def _import_grades(served: Served, body: bytes) -> None:
    response = httpx2.post(f"{served.url}/api/progress/import?kind=grades", headers=AUTH,
                           files={"file": ("notas.csv", body, "text/csv")}, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1, response.text


def _math_average(served: Served) -> float:
    response = httpx2.get(f"{served.url}/api/students/{ANA}/progress", headers=AUTH,
                          timeout=10)
    assert response.status_code == 200, response.text
    return next(c["average"] for c in response.json()["courses"]
                if c["course"] == "Matemáticas")


def test_an_import_in_one_process_drops_the_report_the_other_cached(tmp_path: Path) -> None:
    with two_processes(tmp_path, EKI_RATE_LIMIT_API="0") as (first, second, url, prefix):
        created = httpx2.post(f"{first.url}/api/estudiantes/importar", headers=AUTH,
                              json=[{"nombre": "Ana María Pérez", "telefono": ANA}], timeout=30)
        assert created.status_code == 200 and created.json()["creados"] == 1, created.text
        _import_grades(second, _grades(("Matemáticas", "Taller 1", "4,0")))
        assert _math_average(first) == 4.0
        report_keys = [k for k in keys(url, prefix) if k.startswith(f"{prefix}r:".encode())]
        assert len(report_keys) == 1  # first cached it in Redis
        # Change the grade behind EKI's back: both processes still answer from the cache.
        with sqlite3.connect(tmp_path / "eki.db") as db:
            assert db.execute("UPDATE results SET score = 2.0").rowcount == 1
        assert _math_average(first) == 4.0 and _math_average(second) == 4.0
        # An import through the SECOND process invalidates what the FIRST cached.
        _import_grades(second, _grades(("Matemáticas", "Taller 2", "5,0")))
        assert _math_average(first) == 3.5  # (2.0 + 5.0) / 2, read from the database
        assert "Traceback" not in first.output() + second.output()
