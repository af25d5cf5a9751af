"""The Starlette application factory. Nothing happens at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings
from eki_entrypoints.web import webhooks
from eki_entrypoints.web.access_log import AccessLogMiddleware
from eki_entrypoints.web.admin import admin_routes
from eki_entrypoints.web.conversations import list_handoffs, release_handoff, student_messages
from eki_entrypoints.web.errors import EXCEPTION_HANDLERS
from eki_entrypoints.web.health import healthz, readyz
from eki_entrypoints.web.imports import (
    import_errors_file,
    import_history,
    import_progress,
    import_students,
    importar_estudiantes,
)
from eki_entrypoints.web.students import get_progress, get_student
from eki_entrypoints.worker import PipelineWorker

log = logging.getLogger("eki.web")


def create_app(
    settings: Settings | None = None, *, eki: Eki | None = None, run_worker: bool = False,
    worker_concurrency: int = 32,
) -> Starlette:
    """Build the web app.

    Pass ``eki`` to reuse an already-wired application (tests, embedding);
    otherwise the lifespan bootstraps one from ``settings`` (default: the
    environment) and upgrades an embedded SQLite database by itself.
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = eki is None
        if eki is None:
            cfg = settings if settings is not None else Settings.from_env()
            current = await bootstrap(cfg, auto_upgrade=cfg.is_sqlite)
        else:
            current = eki
        app.state.eki = current
        app.state.settings = current.settings
        worker = PipelineWorker(current, concurrency=worker_concurrency) if run_worker else None
        app.state.worker = worker
        if worker is not None:
            await worker.start()
        log.info("eki web app ready (database %s, worker %s)",
                 current.settings.safe_database_url(), "on" if worker else "off")
        try:
            yield
        finally:
            if worker is not None:
                await worker.stop()
            if owned:
                await current.aclose()

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/api/students/import", import_students, methods=["POST"]),
        Route("/api/estudiantes/importar/", importar_estudiantes, methods=["POST"]),
        Route("/api/estudiantes/importar", importar_estudiantes, methods=["POST"]),
        Route("/api/imports", import_history, methods=["GET"]),
        Route("/api/imports/{job_id}/errors", import_errors_file, methods=["GET"]),
        Route("/api/handoffs", list_handoffs, methods=["GET"]),
        Route("/api/students/{phone}/messages", student_messages, methods=["GET"]),
        Route("/api/students/{phone}/progress", get_progress, methods=["GET"]),
        Route("/api/progress/import", import_progress, methods=["POST"]),
        Route("/api/students/{phone}/handoff/release", release_handoff, methods=["POST"]),
        Route("/api/students/{phone}", get_student, methods=["GET"]),
        Route("/webhooks/whatsapp", webhooks.verify, methods=["GET"]),
        Route("/webhooks/whatsapp", webhooks.receive, methods=["POST"]),
        *admin_routes(),
    ]
    return Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[Middleware(AccessLogMiddleware)],
    )
