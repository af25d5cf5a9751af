"""``/healthz`` (the process answers) and ``/readyz`` (it can do its job).

``/readyz`` checks, each named in the JSON body: ``database`` (reachable), ``migrations``
(schema at head), ``worker`` (some worker process beat in the last minute) and ``queue``
(nothing pending in the inbox or outbox for longer than ``EKI_READYZ_QUEUE_MAX_AGE``).
Checks that cannot run because the database is not ready are ``skipped``.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse

from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Settings


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    eki: Eki = request.app.state.eki
    checks: dict[str, dict[str, Any]] = {}
    if eki.engine is not None:
        started = time.perf_counter()
        try:
            async with eki.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
            checks["database"] = {
                "ok": True,
                "latency_ms": round((time.perf_counter() - started) * 1000, 2),
            }
        except Exception as exc:
            checks["database"] = {"ok": False, "error": type(exc).__name__}
        if checks["database"]["ok"]:
            try:
                at_head = await eki.migrations_at_head()
                checks["migrations"] = {"ok": at_head}
                if not at_head:
                    checks["migrations"]["error"] = "schema is behind: run `eki db upgrade`"
            except Exception as exc:
                checks["migrations"] = {"ok": False, "error": type(exc).__name__}
        else:
            checks["migrations"] = {"ok": False, "error": "database unreachable"}
    if all(check["ok"] for check in checks.values()):
        checks.update(await _pipeline_checks(eki))
    else:
        for name in ("worker", "queue"):
            checks[name] = {"ok": False, "skipped": True,
                            "error": "not checked: the database is not ready"}
    ok = all(check["ok"] for check in checks.values())
    failed = [name for name, check in checks.items()
              if not check["ok"] and not check.get("skipped")]
    return JSONResponse(
        {"status": "ok" if ok else "fail", "failed": failed, "checks": checks},
        status_code=200 if ok else 503,
    )


async def _pipeline_checks(eki: Eki) -> dict[str, dict[str, Any]]:
    settings: Settings = eki.settings
    try:
        snapshot = await eki.operations.snapshot()
    except Exception as exc:
        return {name: {"ok": False, "error": type(exc).__name__} for name in ("worker", "queue")}
    checks = eki.operations.readiness(
        snapshot, queue_max_age=float(settings.readyz_queue_max_age) or None)
    return {name: {"ok": check.ok, **({"error": check.error} if check.error else {}),
                   **check.detail}
            for name, check in checks.items()}
