"""Conversation routes for staff: a student's messages, and releasing a hand-off."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from eki_domain.errors import StudentNotFound
from eki_domain.model.pagination import MAX_PAGE_SIZE, PageRequest
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.web.auth import require_admin
from eki_entrypoints.web.errors import MAX_SQL_INTEGER, ApiError


def _page(request: Request) -> PageRequest:
    try:
        limit = int(request.query_params.get("limit", "50"))
        offset = int(request.query_params.get("offset", "0"))
        if offset > MAX_SQL_INTEGER:
            raise ValueError("offset out of range")
        return PageRequest(limit=limit, offset=offset)
    except ValueError:
        raise ApiError(400, "BAD_PAGE", f"limit must be 1..{MAX_PAGE_SIZE}, offset >= 0"
                       ) from None


async def student_messages(request: Request) -> JSONResponse:
    """Inbound and outbound messages of one student, newest first, paginated."""
    require_admin(request)
    eki: Eki = request.app.state.eki
    page = _page(request)
    student = await eki.registration.find(request.path_params["phone"])
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


async def release_handoff(request: Request) -> JSONResponse:
    """Give the conversation back to the bot (``POST /api/students/{phone}/handoff/release``)."""
    require_admin(request)
    eki: Eki = request.app.state.eki
    student = await eki.registration.find(request.path_params["phone"])
    if student.id is None:  # pragma: no cover - stored students always have ids
        raise StudentNotFound(request.path_params["phone"])
    released = await eki.conversation.release_handoff(student.id, by="api")
    return JSONResponse({"released": released, "student_id": student.id})


async def list_handoffs(request: Request) -> JSONResponse:
    require_admin(request)
    eki: Eki = request.app.state.eki
    async with eki.uow() as uow:
        open_ = await uow.handoffs.open_handoffs()
    return JSONResponse({"items": [
        {"student_id": sid, "wa_id": wa_id, "requested_at": at.isoformat()}
        for sid, wa_id, at in open_
    ]})
