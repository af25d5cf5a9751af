"""The admin site (``/admin``): server-rendered Spanish pages for school staff.

Sign-in per person (email, password, optional TOTP; the admin token only while no admin
account exists), own account, the audit log, a dashboard, students, conversations, the webhook log,
imports with a dry-run preview, and the hand-off queue. See docs/admin.md.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from eki_entrypoints.web.admin import account, alerts, auth, broadcasts, imports, pages

STATIC = Path(__file__).with_name("static")


def admin_routes() -> list[BaseRoute]:
    """The routes to add to the app (every path starts with ``/admin``)."""
    return [
        Mount("/admin/static", StaticFiles(directory=STATIC), name="admin-static"),
        Route("/admin/login", auth.login, methods=["GET", "POST"]),
        Route("/admin/logout", auth.logout, methods=["POST"]),
        Route("/admin/setup/{token}", account.setup, methods=["GET", "POST"]),
        Route("/admin/cuenta", account.account, methods=["GET", "POST"]),
        Route("/admin/auditoria", account.audit_log, methods=["GET"]),
        Route("/admin", pages.dashboard, methods=["GET"]),
        Route("/admin/", pages.dashboard, methods=["GET"]),
        Route("/admin/students", pages.students, methods=["GET"]),
        Route("/admin/students/{student_id:int}", pages.student, methods=["GET"]),
        Route("/admin/webhooks", pages.webhooks, methods=["GET"]),
        Route("/admin/webhooks/{event_id:int}", pages.webhook, methods=["GET"]),
        Route("/admin/handoffs", pages.handoffs, methods=["GET"]),
        Route("/admin/handoffs/{student_id:int}/release", pages.release_handoff,
              methods=["POST"]),
        Route("/admin/imports", imports.imports_page, methods=["GET"]),
        Route("/admin/imports/preview", imports.preview, methods=["POST"]),
        Route("/admin/imports/confirm", imports.confirm, methods=["POST"]),
        Route("/admin/imports/{job_id:int}/errors", imports.errors_file, methods=["GET"]),
        Route("/admin/difusiones", broadcasts.broadcasts_page, methods=["GET"]),
        Route("/admin/difusiones", broadcasts.create, methods=["POST"]),
        Route("/admin/difusiones/{broadcast_id:int}", broadcasts.follow, methods=["GET"]),
        Route("/admin/difusiones/{broadcast_id:int}/estado", broadcasts.progress,
              methods=["GET"]),
        Route("/admin/difusiones/{broadcast_id:int}/resultados.csv", broadcasts.results,
              methods=["GET"]),
        Route("/admin/difusiones/{broadcast_id:int}/{action}", broadcasts.change,
              methods=["POST"]),
        Route("/admin/alertas", alerts.alerts_page, methods=["GET"]),
        Route("/admin/alertas/{rule}", alerts.switch_rule, methods=["POST"]),
    ]


__all__ = ["admin_routes"]
