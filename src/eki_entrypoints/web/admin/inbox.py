"""The staff inbox (``/admin/inbox``, issue #15): the list of conversations, one thread, and
what a person does there — take, assign, reply (free text inside WhatsApp's 24-hour
window, a template outside it), internal notes, quick replies and "Devolver al bot".

Every page has a server-rendered fragment (``…/fragmento``) that ``inbox.js`` fetches again
when ``/admin/events`` reports something, so the list and the thread stay current without a
reload. Sending goes through :class:`~eki_domain.services.staff_messages.StaffMessages`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from eki_domain.errors import EkiError
from eki_domain.model.audit import AuditAction
from eki_domain.model.inbox import window_badge
from eki_domain.model.messages import MAX_MESSAGE_CHARS
from eki_domain.model.pacing import failure_reason
from eki_domain.model.permissions import Action
from eki_domain.model.schedule import window_left
from eki_domain.model.student import Student
from eki_domain.model.templates import WindowClosed
from eki_domain.services.staff_inbox import Tab
from eki_domain.services.staff_messages import TemplateChoice, contact_wa_id
from eki_entrypoints.web.access import audit, caller
from eki_entrypoints.web.admin.auth import AdminContext, protected
from eki_entrypoints.web.admin.render import page

#: What a person sees when free text is tried outside the window.
WINDOW_CLOSED_MESSAGE = ("La ventana de 24 horas está cerrada: el estudiante no ha escrito en "
                         "las últimas 24 horas y WhatsApp no entregaría un texto libre. "
                         "Elija una plantilla aprobada.")
TAB_LABELS = ((Tab.MINE, "Asignadas a mí"), (Tab.UNASSIGNED, "Sin asignar"),
              (Tab.ALL, "Todas"))
NOTICES = {
    "sent": ("ok", "Mensaje en cola: saldrá en unos segundos."),
    "noted": ("ok", "Nota guardada (no se envía al estudiante)."),
    "taken": ("ok", "La conversación es suya: el bot queda en pausa."),
    "assigned": ("ok", "Conversación asignada."),
    "released": ("ok", "Listo: el bot vuelve a responder."),
    "not-open": ("warn", "Esa conversación ya no estaba en manos de una persona."),
}


def _tab(request: Request) -> Tab:
    try:
        return Tab(request.query_params.get("tab", Tab.ALL.value))
    except ValueError:
        return Tab.ALL


def thread_url(student: Student) -> str:
    return f"/admin/inbox/{quote(student.phone.e164, safe='+')}"


async def _student(request: Request, ctx: AdminContext, action: Action) -> Student | None:
    """The student of ``{phone}`` when the principal may do ``action`` for them."""
    reference = str(request.path_params.get("phone", ""))[:40]
    try:
        found = await ctx.eki.registration.find(reference)
    except EkiError:
        return None
    return found if found.id is not None and ctx.may(action, found) else None


def _missing(request: Request, ctx: AdminContext) -> Response:
    return page(request, "error.html", ctx.base(status=404, message="No existe esa "
                                                "conversación."), status=404)


async def _list_context(request: Request, ctx: AdminContext) -> dict[str, Any]:
    inbox = await ctx.eki.inbox.overview(ctx.principal, _tab(request))

    def row(r: Any) -> dict[str, Any]:
        text, level = window_badge(r.window_left)
        return {"r": r, "url": thread_url(r.student), "window": text, "window_level": level,
                "waiting": (ctx.now - r.waiting_since).total_seconds()
                if r.waiting_since else None}

    return ctx.base(nav="inbox", waiting=[row(r) for r in inbox.waiting],
                    rows=[row(r) for r in inbox.rows], tab=inbox.tab.value,
                    tabs=[(t.value, label, inbox.counts[t.value]) for t, label in TAB_LABELS],
                    me=ctx.principal.actor)


@protected(Action.VIEW_HANDOFFS)
async def inbox_page(request: Request, ctx: AdminContext) -> Response:
    return page(request, "inbox.html", await _list_context(request, ctx))


@protected(Action.VIEW_HANDOFFS)
async def inbox_fragment(request: Request, ctx: AdminContext) -> Response:
    return page(request, "_inbox_list.html", await _list_context(request, ctx))


async def _thread_context(request: Request, ctx: AdminContext, student: Student,
                          **extra: Any) -> dict[str, Any]:
    assert student.id is not None
    items = await ctx.eki.inbox.thread(ctx.principal, student)
    async with ctx.eki.uow() as uow:
        wa_id = await contact_wa_id(uow.windows, student.id, student)
        last_in = (await uow.windows.last_inbound_at([wa_id])).get(wa_id)
        owner = await uow.assignments.assignee(student.id)
        paused = await uow.handoffs.has_open_handoff(student.id)
        templates = [t for t in await uow.templates.list() if t.sendable]
    left = window_left(last_in, ctx.now)
    may_manage = ctx.may(Action.MANAGE_HANDOFF, student)
    badge, level = window_badge(left)
    lines = [{"item": i, "reason": failure_reason(i.error_code, i.error_title)
              if i.state == "failed" else None} for i in items]
    notice = NOTICES.get(request.query_params.get("ok", ""))
    picked = extra.pop("picked", None) or request.query_params.get("plantilla", "")[:600]
    chosen = next((t for t in templates if f"{t.name}|{t.language}" == picked), None)
    return ctx.base(
        nav="inbox", student=student, url=thread_url(student), lines=lines,
        window_open=left > timedelta(0), window=badge, window_level=level, owner=owner,
        paused=paused, may_manage=may_manage, templates=templates, chosen=chosen,
        staff=await ctx.eki.inbox.assignable(ctx.principal, student) if may_manage else [],
        quick=await ctx.eki.inbox.quick_replies() if may_manage else [],
        max_chars=MAX_MESSAGE_CHARS, notice=notice, me=ctx.principal.actor,
        **{"error": None, "text": "", "note": "", **extra})


@protected(Action.VIEW_CONVERSATION)
async def thread_page(request: Request, ctx: AdminContext) -> Response:
    student = await _student(request, ctx, Action.VIEW_CONVERSATION)
    if student is None:
        return _missing(request, ctx)
    await audit(request, AuditAction.STUDENT_VIEWED, target_type="student",
                target_id=str(student.id), page="inbox")
    return page(request, "inbox_thread.html", await _thread_context(request, ctx, student))


@protected(Action.VIEW_CONVERSATION)
async def thread_fragment(request: Request, ctx: AdminContext) -> Response:
    student = await _student(request, ctx, Action.VIEW_CONVERSATION)
    if student is None:
        return _missing(request, ctx)
    return page(request, "_inbox_thread.html", await _thread_context(request, ctx, student))


def _back(student: Student, ok: str) -> Response:
    return RedirectResponse(f"{thread_url(student)}?ok={ok}", status_code=303)


def _field(ctx: AdminContext, name: str, limit: int) -> str:
    value = ctx.form.get(name) if ctx.form is not None else None
    return value[:limit] if isinstance(value, str) else ""


async def _again(request: Request, ctx: AdminContext, student: Student, error: str,
                 **extra: Any) -> Response:
    """The thread again with the error and what was typed (nothing is lost)."""
    return page(request, "inbox_thread.html", await _thread_context(
        request, ctx, student, error=error, **extra), status=400)


@protected(Action.MANAGE_HANDOFF)
async def reply(request: Request, ctx: AdminContext) -> Response:
    student = await _student(request, ctx, Action.MANAGE_HANDOFF)
    if student is None:
        return _missing(request, ctx)
    template_name = _field(ctx, "template", 600)
    text: str | None = None
    choice: TemplateChoice | None = None
    if template_name:
        name, _, language = template_name.partition("|")
        params = tuple(_field(ctx, f"p{n}", 1000).strip() for n in range(1, 11))
        count = next((t.parameter_count for t in await _templates(ctx)
                      if t.name == name and t.language == language), 0)
        choice = TemplateChoice(name, language or "es", params[:count])
    else:
        text = (await ctx.eki.inbox.expand(_field(ctx, "text", MAX_MESSAGE_CHARS + 1000))
                ).strip()
    try:
        await ctx.eki.staff_messages.send(caller(request), student, text=text, template=choice)
    except WindowClosed:
        return await _again(request, ctx, student, WINDOW_CLOSED_MESSAGE, text=text or "")
    except EkiError as exc:
        return await _again(request, ctx, student, exc.message, text=text or "",
                            picked=template_name)
    return _back(student, "sent")


async def _templates(ctx: AdminContext) -> list[Any]:
    async with ctx.eki.uow() as uow:
        return [t for t in await uow.templates.list() if t.sendable]


@protected(Action.MANAGE_HANDOFF)
async def note(request: Request, ctx: AdminContext) -> Response:
    student = await _student(request, ctx, Action.MANAGE_HANDOFF)
    if student is None:
        return _missing(request, ctx)
    body = _field(ctx, "note", 4000)
    try:
        await ctx.eki.inbox.add_note(caller(request), student, body)
    except EkiError as exc:
        return await _again(request, ctx, student, exc.message, note=body)
    return _back(student, "noted")


@protected(Action.MANAGE_HANDOFF)
async def take(request: Request, ctx: AdminContext) -> Response:
    student = await _student(request, ctx, Action.MANAGE_HANDOFF)
    if student is None:
        return _missing(request, ctx)
    await ctx.eki.staff_messages.take(caller(request), student)
    return _back(student, "taken")


@protected(Action.MANAGE_HANDOFF)
async def assign(request: Request, ctx: AdminContext) -> Response:
    student = await _student(request, ctx, Action.MANAGE_HANDOFF)
    if student is None:
        return _missing(request, ctx)
    try:
        await ctx.eki.inbox.assign(caller(request), student, _field(ctx, "to", 254))
    except EkiError as exc:
        return await _again(request, ctx, student, exc.message)
    return _back(student, "assigned")


@protected(Action.MANAGE_HANDOFF)
async def release(request: Request, ctx: AdminContext) -> Response:
    student = await _student(request, ctx, Action.MANAGE_HANDOFF)
    if student is None:
        return _missing(request, ctx)
    assert student.id is not None
    released = await ctx.eki.conversation.release_handoff(student.id,
                                                          by=ctx.principal.actor[:100])
    if released:
        await audit(request, AuditAction.HANDOFF_RELEASED, target_type="student",
                    target_id=str(student.id), via="inbox")
    return _back(student, "released" if released else "not-open")
