"""The admin site (``/admin``): server-rendered Spanish pages for school staff.

Sign-in per person (email, password, optional TOTP; the admin token only while no admin
account exists), own account, the audit log, a dashboard, students, conversations, the webhook log,
imports with a dry-run preview, the hand-off queue, guardians and verification codes. See
docs/admin.md and docs/families.md.
"""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from eki_entrypoints.web.admin import (
    account,
    alerts,
    auth,
    broadcasts,
    families,
    imports,
    inbox,
    pages,
    privacy,
    quick_replies,
)

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
        Route("/admin/students/{student_id:int}/acudientes", families.add_to_student,
              methods=["POST"]),
        Route("/admin/acudientes", families.guardians, methods=["GET"]),
        Route("/admin/acudientes/{guardian}", families.guardian, methods=["GET"]),
        Route("/admin/acudientes/{guardian}/vinculo", families.change_link, methods=["POST"]),
        Route("/admin/codigos", families.codes, methods=["GET"]),
        Route("/admin/codigos/emitir", families.issue_codes, methods=["POST"]),
        Route("/admin/codigos/{code_id:int}/aprobar", families.decide_code, methods=["POST"]),
        Route("/admin/codigos/{code_id:int}/rechazar", families.decide_code, methods=["POST"]),
        Route("/admin/webhooks", pages.webhooks, methods=["GET"]),
        Route("/admin/webhooks/{event_id:int}", pages.webhook, methods=["GET"]),
        Route("/admin/handoffs", pages.handoffs, methods=["GET"]),
        Route("/admin/handoffs/{student_id:int}/release", pages.release_handoff,
              methods=["POST"]),
        Route("/admin/inbox", inbox.inbox_page, methods=["GET"]),
        Route("/admin/inbox/fragmento", inbox.inbox_fragment, methods=["GET"]),
        Route("/admin/inbox/{phone}", inbox.thread_page, methods=["GET"]),
        Route("/admin/inbox/{phone}/fragmento", inbox.thread_fragment, methods=["GET"]),
        Route("/admin/inbox/{phone}/responder", inbox.reply, methods=["POST"]),
        Route("/admin/inbox/{phone}/nota", inbox.note, methods=["POST"]),
        Route("/admin/inbox/{phone}/tomar", inbox.take, methods=["POST"]),
        Route("/admin/inbox/{phone}/asignar", inbox.assign, methods=["POST"]),
        Route("/admin/inbox/{phone}/devolver", inbox.release, methods=["POST"]),
        Route("/admin/respuestas", quick_replies.quick_replies, methods=["GET", "POST"]),
        Route("/admin/respuestas/{shortcut}/borrar", quick_replies.delete_quick_reply,
              methods=["POST"]),
        Route("/admin/imports", imports.imports_page, methods=["GET"]),
        Route("/admin/imports/preview", imports.preview, methods=["POST"]),
        Route("/admin/imports/confirm", imports.confirm, methods=["POST"]),
        Route("/admin/imports/{job_id:int}/errors", imports.errors_file, methods=["GET"]),
        Route("/admin/privacidad", privacy.register, methods=["GET"]),
        Route("/admin/privacidad/solicitudes", privacy.open_request, methods=["POST"]),
        Route("/admin/privacidad/solicitudes/{request_id:int}/cerrar", privacy.close_request,
              methods=["POST"]),
        Route("/admin/privacidad/exportar", privacy.export, methods=["POST"]),
        Route("/admin/privacidad/borrar", privacy.erase, methods=["POST"]),
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
