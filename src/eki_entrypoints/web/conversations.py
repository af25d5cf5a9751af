"""Conversation routes for staff: a student's messages, and releasing a hand-off."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from eki_domain.errors import StudentNotFound
from eki_domain.model.audit import AuditAction
from eki_domain.model.permissions import Action
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.web.access import api, audit, require_student, scope
from eki_entrypoints.web.errors import page_request
from eki_entrypoints.web.students import visible_student


@api(Action.VIEW_CONVERSATION)
async def student_messages(request: Request) -> JSONResponse:
    """Inbound and outbound messages of one student, newest first, paginated."""
    eki: Eki = request.app.state.eki
    page = page_request(request)
    student = await visible_student(request, Action.VIEW_CONVERSATION, "messages")
    assert student.id is not None
    async with eki.uow() as uow:
        history = await uow.history.page(student.id, page)
    return JSONResponse({
        "student": {"id": student.id, "name": student.name, "phone": student.phone.e164},
        "items": [
            {"direction": e.direction, "at": e.at.isoformat(), "text": e.text, "type": e.type,
             "state": e.state, "provider_id": e.provider_id, "error_code": e.error_code,
             "intent": e.intent}
            for e in history.items
        ],
        "total": history.total, "limit": history.limit, "offset": history.offset,
        "has_more": history.has_more,
    })


@api(Action.MANAGE_HANDOFF)
async def release_handoff(request: Request) -> JSONResponse:
    """Give the conversation back to the bot (``POST /api/students/{phone}/handoff/release``)."""
    eki: Eki = request.app.state.eki
    reference = request.path_params["phone"]
    student = await eki.registration.find(reference)
    require_student(request, Action.MANAGE_HANDOFF, student, reference)
    if student.id is None:  # pragma: no cover - stored students always have ids
        raise StudentNotFound(reference)
    released = await eki.conversation.release_handoff(student.id, by="api")
    if released:
        await audit(request, AuditAction.HANDOFF_RELEASED, target_type="student",
                    target_id=str(student.id), via="api")
    return JSONResponse({"released": released, "student_id": student.id})


@api(Action.VIEW_HANDOFFS)
async def list_handoffs(request: Request) -> JSONResponse:
    eki: Eki = request.app.state.eki
    tags = scope(request)
    async with eki.uow() as uow:
        open_ = list(await uow.handoffs.open_handoffs())
        if tags is not None:  # a teacher: the hand-offs of their own students only
            students = [await uow.students.get(sid) for sid, _wa, _at in open_]
            open_ = [row for row, s in zip(open_, students, strict=True)
                     if s is not None and tags.intersection(s.tags)]
    return JSONResponse({"items": [
        {"student_id": sid, "wa_id": wa_id, "requested_at": at.isoformat()}
        for sid, wa_id, at in open_
    ]})
