"""Admin pages for families (issue 17): the guardians list and a guardian's page, the
guardians on a student's page (add, change, unlink) and ``/admin/codigos`` (issue codes as
an .xlsx, approve or reject redemptions when ``EKI_CODE_APPROVAL=1``)."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from eki_domain.errors import (
    CodeNotPending,
    DuplicateGuardianLink,
    GuardianNotFound,
    InvalidInput,
    InvalidTag,
    StudentNotFound,
)
from eki_domain.model.codes import CodePurpose
from eki_domain.model.guardian import Relationship
from eki_domain.model.pagination import PageRequest
from eki_domain.model.permissions import Action, student_scope
from eki_domain.model.student import normalize_tag
from eki_domain.services.families import GUARDIAN_VIEWED, MAX_PRIORITY
from eki_entrypoints.families import code_desk, codes_workbook, family_service
from eki_entrypoints.web.access import audit, caller
from eki_entrypoints.web.admin.auth import AdminContext, form_error, protected
from eki_entrypoints.web.admin.pages import not_found, page_number, pager
from eki_entrypoints.web.admin.render import page

GUARDIANS_PER_PAGE = 25
MAX_PHONE_CHARS = 40
RELATIONSHIPS = tuple(r.value for r in Relationship)


def guardian_url(e164: str) -> str:
    return "/admin/acudientes/" + quote(e164, safe="")


def _field(ctx: AdminContext, name: str, limit: int = 200) -> str:
    value = ctx.form.get(name) if ctx.form is not None else None
    return value.strip()[:limit] if isinstance(value, str) else ""


def _checked(ctx: AdminContext, name: str) -> bool:
    return _field(ctx, name) in ("1", "on", "true")


def _failed(request: Request, ctx: AdminContext, status: int, message: str,
            back: str) -> Response:
    return page(request, "error.html", ctx.base(status=status, message=message, back=back),
                status=status)


@protected(Action.LIST_STUDENTS)
async def guardians(request: Request, ctx: AdminContext) -> Response:
    """``/admin/acudientes?q=``: by name; a teacher sees their students' guardians."""
    search = request.query_params.get("q", "").strip()[:100]
    number = page_number(request)
    result = await family_service(ctx.eki).page(
        search=search or None, any_tags=student_scope(ctx.principal),
        page=PageRequest(limit=GUARDIANS_PER_PAGE, offset=(number - 1) * GUARDIANS_PER_PAGE))
    return page(request, "guardians.html", ctx.base(
        nav="guardians", cards=result.items, pager=pager(request, result), q=search,
        guardian_url=guardian_url))


@protected(Action.VIEW_STUDENT)
async def guardian(request: Request, ctx: AdminContext) -> Response:
    """A guardian's children with relationship, flags and priority (editable with
    ``MANAGE_GUARDIANS``)."""
    raw = str(request.path_params["guardian"])[:MAX_PHONE_CHARS + 1]
    try:
        if len(raw) > MAX_PHONE_CHARS:
            raise GuardianNotFound("ese número")
        card = await family_service(ctx.eki).card(raw, any_tags=student_scope(ctx.principal))
    except (GuardianNotFound, InvalidInput):
        return not_found(request, ctx, "No existe ese acudiente.")
    await audit(request, GUARDIAN_VIEWED, target_type="guardian",
                target_id=str(card.guardian.id), page="admin")
    return page(request, "guardian.html", ctx.base(
        nav="guardians", card=card, relationships=RELATIONSHIPS, max_priority=MAX_PRIORITY,
        done=request.query_params.get("hecho", "")[:20]))


@protected(Action.MANAGE_GUARDIANS)
async def change_link(request: Request, ctx: AdminContext) -> Response:
    """``POST /admin/acudientes/{guardian}/vinculo``: ``action`` = update (relationship,
    flags, priority) or unlink, for the student ``student`` (an id); ``back=student``
    returns to the student's page."""
    raw = str(request.path_params["guardian"])[:MAX_PHONE_CHARS + 1]
    action, student_text = _field(ctx, "action", 20), _field(ctx, "student", 20)
    if len(raw) > MAX_PHONE_CHARS or action not in ("update", "unlink") \
            or not student_text.isdigit() or len(student_text) > 18:
        return form_error(request, 400, "La petición no es válida.", ctx)
    async with ctx.eki.uow() as uow:
        student = await uow.students.get(int(student_text))
    back = (f"/admin/students/{student_text}" if _field(ctx, "back", 20) == "student"
            else guardian_url(raw))
    if student is None:
        return not_found(request, ctx, "No existe ese estudiante.")
    service = family_service(ctx.eki)
    try:
        if action == "unlink":
            removed = await service.unlink(caller(request), raw,
                                           student_phone=student.phone.e164, via="admin")
            done = "desvinculado" if removed else "nada"
        else:
            priority_text = _field(ctx, "priority", 6)
            priority = int(priority_text) if priority_text.isdigit() else None
            if priority is None or not 1 <= priority <= MAX_PRIORITY:
                raise InvalidInput(f"La prioridad va de 1 a {MAX_PRIORITY}.")
            await service.update_link(
                caller(request), raw, student_phone=student.phone.e164,
                relationship=_field(ctx, "relationship", 40) or None,
                may_see_grades=_checked(ctx, "may_see_grades"),
                may_receive_alerts=_checked(ctx, "may_receive_alerts"), priority=priority,
                via="admin")
            done = "guardado"
    except (GuardianNotFound, StudentNotFound):
        return not_found(request, ctx, "Ese acudiente no está vinculado a ese estudiante.")
    except InvalidInput as exc:
        return _failed(request, ctx, 400, exc.message, back)
    return RedirectResponse(f"{back}?hecho={done}", status_code=303)


@protected(Action.MANAGE_GUARDIANS)
async def add_to_student(request: Request, ctx: AdminContext) -> Response:
    """``POST /admin/students/{id}/acudientes``: a guardian (new or known by phone) linked
    to the student; an existing link is refused (change it instead)."""
    student_id: int = request.path_params["student_id"]
    async with ctx.eki.uow() as uow:
        student = await uow.students.get(student_id)
    if student is None:
        return not_found(request, ctx, "No existe ese estudiante.")
    back = f"/admin/students/{student_id}"
    try:
        await family_service(ctx.eki).add(
            caller(request), _field(ctx, "name", 200), _field(ctx, "phone", MAX_PHONE_CHARS),
            student_phone=student.phone.e164,
            relationship=_field(ctx, "relationship", 40) or None,
            may_see_grades=_checked(ctx, "may_see_grades"),
            may_receive_alerts=_checked(ctx, "may_receive_alerts"), replace=False,
            via="admin")
    except DuplicateGuardianLink as exc:
        return _failed(request, ctx, 409, exc.message, back)
    except InvalidInput as exc:
        return _failed(request, ctx, 400, exc.message.replace("del estudiante",
                                                              "del acudiente"), back)
    return RedirectResponse(f"{back}?hecho=acudiente", status_code=303)


@protected(Action.MANAGE_CODES)
async def codes(request: Request, ctx: AdminContext) -> Response:
    """Redemptions waiting for approval, and the form that issues codes."""
    pending = await code_desk(ctx.eki).pending()
    return page(request, "codes.html", ctx.base(
        nav="codes", pending=pending, approval=ctx.eki.settings.code_approval,
        days=ctx.eki.settings.code_days, done=request.query_params.get("hecho", "")[:20],
        told=request.query_params.get("avisado", "")[:1]))


@protected(Action.MANAGE_CODES)
async def decide_code(request: Request, ctx: AdminContext) -> Response:
    """``POST /admin/codigos/{id}/aprobar`` or ``…/rechazar``."""
    code_id: int = request.path_params["code_id"]
    approve = request.url.path.endswith("/aprobar")
    try:
        done = await code_desk(ctx.eki).decide(caller(request), code_id, approve=approve,
                                               via="admin",
                                               notify_channel=ctx.eki.channel.name)
    except CodeNotPending as exc:
        return _failed(request, ctx, 404, exc.message, "/admin/codigos")
    outcome = "aprobado" if approve else "rechazado"
    return RedirectResponse(f"/admin/codigos?hecho={outcome}"
                            f"&avisado={'1' if done.notified else '0'}", status_code=303)


@protected(Action.MANAGE_CODES)
async def issue_codes(request: Request, ctx: AdminContext) -> Response:
    """``POST /admin/codigos/emitir``: one new code per active student (of a tag, when
    given) as an .xlsx download; earlier unused codes are revoked."""
    tag_text = _field(ctx, "tag", 100)
    purpose_text = _field(ctx, "purpose", 20) or CodePurpose.GUARDIAN.value
    try:
        tags = [normalize_tag(tag_text)] if tag_text else []
        purpose = CodePurpose(purpose_text)
    except (InvalidTag, ValueError):
        return _failed(request, ctx, 400, "Revise la etiqueta y el destino de los códigos.",
                       "/admin/codigos")
    issued = await code_desk(ctx.eki).issue(caller(request), tags=tags, purpose=purpose)
    if not issued:
        return _failed(request, ctx, 404, "No hay estudiantes activos"
                       + (f" con la etiqueta «{tags[0]}»." if tags else "."),
                       "/admin/codigos")
    # openpyxl builds the file in CPU for a whole school: off the event loop
    body = await asyncio.to_thread(codes_workbook, issued, purpose)
    name = "codigos.xlsx"
    return Response(body, media_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
