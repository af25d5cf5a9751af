"""The Starlette application factory. Nothing happens at import time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.routing import Route

from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.settings import Settings
from eki_entrypoints.web import twilio_webhooks, webhooks
from eki_entrypoints.web.access_log import AccessLogMiddleware
from eki_entrypoints.web.admin import admin_routes
from eki_entrypoints.web.admin.session import session_store
from eki_entrypoints.web.auth import auth_failure_limiter
from eki_entrypoints.web.broadcasts import broadcast_routes
from eki_entrypoints.web.conversations import list_handoffs, release_handoff, student_messages
from eki_entrypoints.web.errors import EXCEPTION_HANDLERS
from eki_entrypoints.web.events import admin_events, api_events, stream_slots
from eki_entrypoints.web.guardians import guardian_routes
from eki_entrypoints.web.health import healthz, readyz
from eki_entrypoints.web.imports import (
    import_errors_file,
    import_history,
    import_progress,
    import_students,
    importar_estudiantes,
)
from eki_entrypoints.web.limits import BodyBudget
from eki_entrypoints.web.messages import message_routes
from eki_entrypoints.web.metrics import metrics
from eki_entrypoints.web.ratelimit import RateLimiter, RateLimitMiddleware, RateLimitRule
from eki_entrypoints.web.security import (
    HttpsRedirectMiddleware,
    ProxyHeadersMiddleware,
    SecurityHeadersMiddleware,
)
from eki_entrypoints.web.students import get_progress, get_student
from eki_entrypoints.worker import PipelineWorker

log = logging.getLogger("eki.web")


def create_app(
    settings: Settings | None = None, *, eki: Eki | None = None, run_worker: bool = False,
    worker_concurrency: int | None = None,
) -> Starlette:
    """Build the web app.

    Pass ``eki`` to reuse an already-wired application (tests, embedding);
    otherwise the lifespan bootstraps one from ``settings`` (default: the
    environment) and upgrades an embedded SQLite database by itself.
    Hardening (trusted hosts, HTTPS, security headers, rate limits) follows the settings
    known here: ``settings``, else ``eki.settings``, else the environment.
    """
    config = (settings if settings is not None
              else eki.settings if eki is not None else Settings.from_env())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = eki is None
        if eki is None:
            # Without the worker no turn runs here: no intent model to train (it took
            # ~2 s of CPU from the first acknowledgements; issue 19).
            current = await bootstrap(config, auto_upgrade=config.is_sqlite,
                                      warm_model=run_worker)
        else:
            current = eki
        app.state.eki = current
        app.state.settings = current.settings
        app.state.sessions = session_store(current)
        app.state.secret_key = None  # the stored key, read on first use
        worker = PipelineWorker(current, concurrency=worker_concurrency) if run_worker else None
        app.state.worker = worker
        try:
            if worker is not None:
                await worker.start()
            log.info("eki web app ready (database %s, worker %s)",
                     current.settings.safe_database_url(), "on" if worker else "off")
            yield
        finally:
            if worker is not None:
                await worker.stop()
            # Live events still being published from this event loop go out before it ends
            # (an Eki given by the caller outlives this app; its bridge must not be left
            # mid-lookup in a loop that is closing).
            await current.live.flush()
            if owned:
                await current.aclose()

    routes = [
        # The webhooks first: Starlette tries the routes in order, and a delivery is most
        # of what the server handles (it was behind 33 other routes, ~30-50 µs of matching
        # per acknowledgement; issue 19). No other path starts with /webhooks/.
        Route("/webhooks/whatsapp", webhooks.receive, methods=["POST"]),
        Route("/webhooks/whatsapp", webhooks.verify, methods=["GET"]),
        Route("/webhooks/twilio", twilio_webhooks.receive, methods=["POST"]),
        Route("/webhooks/twilio/status", twilio_webhooks.receive_status, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/api/students/import", import_students, methods=["POST"]),
        Route("/api/estudiantes/importar/", importar_estudiantes, methods=["POST"]),
        Route("/api/estudiantes/importar", importar_estudiantes, methods=["POST"]),
        Route("/api/imports", import_history, methods=["GET"]),
        Route("/api/imports/{job_id}/errors", import_errors_file, methods=["GET"]),
        Route("/api/handoffs", list_handoffs, methods=["GET"]),
        Route("/api/events", api_events, methods=["GET"]),
        Route("/admin/events", admin_events, methods=["GET"]),
        Route("/api/students/{phone}/messages", student_messages, methods=["GET"]),
        *message_routes(),
        *broadcast_routes(),
        Route("/api/students/{phone}/progress", get_progress, methods=["GET"]),
        Route("/api/progress/import", import_progress, methods=["POST"]),
        Route("/api/students/{phone}/handoff/release", release_handoff, methods=["POST"]),
        Route("/api/students/{phone}", get_student, methods=["GET"]),
        *guardian_routes(),
        *admin_routes(),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=hardening(config),
    )
    app.state.auth_failures = auth_failure_limiter(config)
    app.state.body_budget = BodyBudget(config.unsigned_body_budget)
    app.state.event_streams = stream_slots(config)
    return app


def create_metrics_app(eki: Eki) -> Starlette:
    """``GET /metrics`` and ``GET /healthz`` alone, for ``eki worker --metrics-port``."""
    app = Starlette(
        routes=[Route("/metrics", metrics, methods=["GET"]),
                Route("/healthz", healthz, methods=["GET"])],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[Middleware(SecurityHeadersMiddleware)],
    )
    app.state.eki = eki
    app.state.settings = eki.settings
    app.state.auth_failures = auth_failure_limiter(eki.settings)
    app.state.body_budget = BodyBudget(eki.settings.unsigned_body_budget)
    return app


def hardening(settings: Settings) -> list[Middleware]:
    """The middleware stack, outermost first: original scheme and client from trusted
    proxies, security headers on every response (refusals included), the access log,
    the Host check, the HTTPS redirect, then the per-IP rate limits."""
    return [
        Middleware(ProxyHeadersMiddleware, trusted=settings.trusted_proxies),
        Middleware(SecurityHeadersMiddleware,
                   hsts_max_age=settings.hsts_max_age if settings.force_https else 0),
        Middleware(AccessLogMiddleware),
        Middleware(TrustedHostMiddleware, allowed_hosts=list(settings.allowed_hosts)),
        Middleware(HttpsRedirectMiddleware, enabled=settings.force_https),
        Middleware(RateLimitMiddleware, rules=rate_limit_rules(settings)),
    ]


def rate_limit_rules(settings: Settings) -> list[RateLimitRule]:
    """``/api`` (every method) and the admin sign-in (``POST /admin/login``), per client IP
    and minute (``EKI_RATE_LIMIT_API``, ``EKI_RATE_LIMIT_LOGIN``; 0 turns one off)."""
    return [
        RateLimitRule("login", RateLimiter(settings.rate_limit_login), path="/admin/login",
                      methods=frozenset({"POST"})),
        RateLimitRule("api", RateLimiter(settings.rate_limit_api), prefix="/api"),
    ]
