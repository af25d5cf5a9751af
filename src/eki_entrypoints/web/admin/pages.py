"""Admin pages: the dashboard, students, a student, the webhook log and the hand-off queue."""

from __future__ import annotations

import contextlib
import json
import math
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from eki_domain.errors import InvalidTag
from eki_domain.model.audit import AuditAction
from eki_domain.model.guardian import Relationship
from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.permissions import Action, student_scope
from eki_domain.model.student import Student, normalize_tag
from eki_domain.services.dashboard import DashboardService
from eki_entrypoints.families import family_service
from eki_entrypoints.web.access import audit
from eki_entrypoints.web.admin.auth import AdminContext, protected
from eki_entrypoints.web.admin.charts import bar_chart, line_chart
from eki_entrypoints.web.admin.render import page

STUDENTS_PER_PAGE = 25
MESSAGES_PER_PAGE = 30
EVENTS_PER_PAGE = 50


def page_number(request: Request) -> int:
    try:
        return max(1, min(int(request.query_params.get("page", "1")), 100_000))
    except ValueError:
        return 1


def pager(request: Request, result: Page[Any]) -> dict[str, object]:
    """Previous/next links that keep the other query parameters."""
    current = result.offset // result.limit + 1
    pages = max(1, math.ceil(result.total / result.limit))
    params = {k: v for k, v in request.query_params.items() if k != "page" and v}

    def link(number: int) -> str:
        return f"{request.url.path}?{urlencode({**params, 'page': number})}"

    return {"current": current, "pages": pages, "total": result.total,
            "previous": link(current - 1) if current > 1 else None,
            "next": link(current + 1) if result.has_more else None}


def not_found(request: Request, ctx: AdminContext, message: str) -> Response:
    return page(request, "error.html", ctx.base(status=404, message=message), status=404)


@protected(Action.VIEW_DASHBOARD)
async def dashboard(request: Request, ctx: AdminContext) -> Response:
    board = await DashboardService(ctx.eki.uow, ctx.eki.clock).overview()
    labels = [h.start.strftime("%Hh") for h in board.hours]
    traffic = bar_chart("Mensajes por hora, últimas 24 horas (UTC)", labels, [
        ("inbound", [float(h.inbound) for h in board.hours]),
        ("outbound", [float(h.outbound) for h in board.hours])])
    latency = line_chart("Tiempo de respuesta por hora, últimas 24 horas (UTC)", labels, [
        ("max", [h.max_reply_seconds for h in board.hours]),
        ("avg", [h.avg_reply_seconds for h in board.hours])], unit=" s")
    # Data requests (issue 18) due within 3 days or late: no person named, only deadlines.
    privacy_due = await ctx.eki.privacy.due_soon()
    responses = await ctx.eki.inbox.response_figures(ctx.principal)
    return page(request, "dashboard.html", ctx.base(
        nav="panel", board=board, traffic_chart=traffic, latency_chart=latency,
        privacy_due=privacy_due, today=ctx.eki.privacy.today(),
        responses=responses, business_hours=ctx.eki.settings.business_hours))


@protected(Action.LIST_STUDENTS)
async def students(request: Request, ctx: AdminContext) -> Response:
    params = request.query_params
    search = params.get("q", "").strip()[:100]
    tag_text = params.get("tag", "").strip()
    active = {"1": True, "0": False}.get(params.get("active", ""))
    error = None
    tag = None
    if tag_text:
        try:
            tag = normalize_tag(tag_text)
        except InvalidTag as exc:
            error = exc.message
    number = page_number(request)
    request_page = PageRequest(limit=STUDENTS_PER_PAGE, offset=(number - 1) * STUDENTS_PER_PAGE)
    async with ctx.eki.uow() as uow:
        result: Page[Student] = await uow.students.list(
            tag=tag, active=active, search=search or None, page=request_page,
            any_tags=student_scope(ctx.principal))
    return page(request, "students.html", ctx.base(
        nav="students", students=result.items, pager=pager(request, result),
        q=search, tag=tag_text, active=params.get("active", ""), error=error))


@protected(Action.VIEW_STUDENT)
async def student(request: Request, ctx: AdminContext) -> Response:
    student_id: int = request.path_params["student_id"]
    number = page_number(request)
    async with ctx.eki.uow() as uow:
        found = await uow.students.get(student_id)
        if found is None or not ctx.may(Action.VIEW_STUDENT, found):
            return not_found(request, ctx, "No existe ese estudiante.")
        may_read = ctx.may(Action.VIEW_CONVERSATION, found)
        history = await uow.history.page(student_id, PageRequest(
            limit=MESSAGES_PER_PAGE, offset=(number - 1) * MESSAGES_PER_PAGE))
        paused = await uow.handoffs.has_open_handoff(student_id)
        tokens_today = await uow.usage.tokens_for(student_id, ctx.now.date())
    report = await ctx.eki.progress.report(student_id)
    links = await family_service(ctx.eki).of_student(found)
    await audit(request, AuditAction.STUDENT_VIEWED, target_type="student",
                target_id=str(student_id), page="admin")
    return page(request, "student.html", ctx.base(
        nav="students", student=found, history=history.items if may_read else (),
        pager=pager(request, history), paused=paused,
        report=report, tokens_today=tokens_today, guardians=links,
        relationships=tuple(r.value for r in Relationship),
        done=request.query_params.get("hecho", "")[:20],
        released=request.query_params.get("released")))


@protected(Action.VIEW_WEBHOOK_LOG)
async def webhooks(request: Request, ctx: AdminContext) -> Response:
    params = request.query_params
    signature = params.get("signature", "")
    signature_ok = {"ok": True, "failed": False}.get(signature)
    channel = params.get("channel", "").strip()[:20] or None
    number = page_number(request)
    async with ctx.eki.uow() as uow:
        result = await uow.operations.webhook_events(
            signature_ok=signature_ok, channel=channel,
            page=PageRequest(limit=EVENTS_PER_PAGE, offset=(number - 1) * EVENTS_PER_PAGE))
        failed_day = await uow.operations.webhook_events(
            signature_ok=False, page=PageRequest(limit=1))
    return page(request, "webhooks.html", ctx.base(
        nav="webhooks", events=result.items, pager=pager(request, result),
        signature=signature, channel=channel or "", failures_total=failed_day.total))


@protected(Action.VIEW_WEBHOOK_LOG)
async def webhook(request: Request, ctx: AdminContext) -> Response:
    async with ctx.eki.uow() as uow:
        event = await uow.operations.webhook_event(request.path_params["event_id"])
    if event is None:
        return not_found(request, ctx, "No existe ese evento.")
    pretty = event.body
    with contextlib.suppress(ValueError, TypeError):
        pretty = json.dumps(json.loads(event.body), indent=2, ensure_ascii=False)
    return page(request, "webhook.html", ctx.base(nav="webhooks", event=event, pretty=pretty))


@protected(Action.VIEW_HANDOFFS)
async def handoffs(request: Request, ctx: AdminContext) -> Response:
    rows = []
    async with ctx.eki.uow() as uow:
        for student_id, wa_id, requested_at in await uow.handoffs.open_handoffs():
            found = await uow.students.get(student_id)
            if found is None or not ctx.may(Action.MANAGE_HANDOFF, found):
                continue  # a teacher sees the hand-offs of their own students only
            rows.append({"student": found, "id": student_id,
                         "wa_id": wa_id, "requested_at": requested_at,
                         "waiting": max(timedelta(0), ctx.now - requested_at)})
    return page(request, "handoffs.html", ctx.base(
        nav="handoffs", handoffs=rows, released=request.query_params.get("released")))


@protected(Action.MANAGE_HANDOFF)
async def release_handoff(request: Request, ctx: AdminContext) -> Response:
    student_id: int = request.path_params["student_id"]
    async with ctx.eki.uow() as uow:
        found = await uow.students.get(student_id)
    if found is None or not ctx.may(Action.MANAGE_HANDOFF, found):
        return not_found(request, ctx, "No existe ese estudiante.")
    released = await ctx.eki.conversation.release_handoff(student_id, by="admin")
    if released:
        await audit(request, AuditAction.HANDOFF_RELEASED, target_type="student",
                    target_id=str(student_id))
    back = ctx.form.get("back") if ctx.form is not None else None
    target = (f"/admin/students/{student_id}" if back == "student" else "/admin/handoffs")
    return RedirectResponse(f"{target}?released={'1' if released else '0'}", status_code=303)
