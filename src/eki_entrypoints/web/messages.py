"""``POST /api/students/{phone}/messages``: school staff (or another school system) write to
a student through EKI, inside WhatsApp's rules.

Body: ``{"text": "…"}`` or ``{"template": "NAME", "language": "es", "params": ["…"]}``.
Answers 202 ``{"id", "state": "queued"}``; 409 ``WINDOW_CLOSED`` for free text outside the
24-hour window; 422 for an unknown or unapproved template; ``POST
/api/students/{phone}/handoff/take`` assigns the conversation to the caller and ``GET
/api/conversations?status=waiting|assigned|all`` lists the open hand-offs.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from eki_domain.model.permissions import Action
from eki_domain.model.schedule import window_left
from eki_domain.model.templates import WindowClosed
from eki_domain.services.staff_messages import RecipientOptedOut, TemplateChoice
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.web.access import api, caller, require_student, scope
from eki_entrypoints.web.errors import ApiError
from eki_entrypoints.web.limits import json_object

#: A message body is at most 4096 characters; the JSON around it is small.
MAX_BODY_BYTES = 64 * 1024


def _choice(data: dict[str, Any]) -> tuple[str | None, TemplateChoice | None]:
    text, name = data.get("text"), data.get("template")
    if (text is None) == (name is None):
        raise ApiError(400, "BAD_MESSAGE", 'send {"text": …} or {"template": …} (one of them)')
    if text is not None:
        if not isinstance(text, str):
            raise ApiError(400, "BAD_MESSAGE", "text must be a string")
        return text, None
    language, params = data.get("language", "es"), data.get("params", [])
    if not isinstance(name, str) or not isinstance(language, str):
        raise ApiError(400, "BAD_MESSAGE", "template and language must be strings")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise ApiError(400, "BAD_MESSAGE", "params must be a list of strings")
    return None, TemplateChoice(name, language, tuple(params))


@api(Action.MANAGE_HANDOFF)
async def send_message(request: Request) -> JSONResponse:
    eki: Eki = request.app.state.eki
    student = await eki.registration.find(request.path_params["phone"])
    require_student(request, Action.MANAGE_HANDOFF, student, request.path_params["phone"])
    text, template = _choice(await json_object(request, MAX_BODY_BYTES))
    try:
        queued = await eki.staff_messages.send(caller(request), student, text=text,
                                               template=template)
    except (WindowClosed, RecipientOptedOut) as exc:
        return JSONResponse({"error": {"code": exc.code, "message": exc.message}},
                            status_code=409)
    return JSONResponse({"id": queued.id, "state": queued.state,
                         "student_id": queued.student_id, "took_over": queued.took_over,
                         "template": queued.template,
                         "window_left_seconds": int(queued.window_left.total_seconds())},
                        status_code=202)


@api(Action.MANAGE_HANDOFF)
async def take_handoff(request: Request) -> JSONResponse:
    eki: Eki = request.app.state.eki
    student = await eki.registration.find(request.path_params["phone"])
    require_student(request, Action.MANAGE_HANDOFF, student, request.path_params["phone"])
    who = caller(request)
    opened = await eki.staff_messages.take(who, student)
    return JSONResponse({"student_id": student.id, "opened": opened,
                         "assigned_to": who.principal.actor})


@api(Action.VIEW_HANDOFFS)
async def list_conversations(request: Request) -> JSONResponse:
    """``GET /api/conversations?status=waiting|assigned|all``: open hand-offs, oldest first
    (waiting: nobody took them yet); a teacher sees those of her students only."""
    status = request.query_params.get("status", "all")
    if status not in ("waiting", "assigned", "all"):
        raise ApiError(400, "BAD_STATUS", "status must be waiting, assigned or all")
    eki: Eki = request.app.state.eki
    now = eki.clock.now()
    tags = scope(request)
    async with eki.uow() as uow:
        rows = await uow.assignments.open_with_assignees()
        if tags is not None:
            students = {sid: await uow.students.get(sid) for sid, _, _, _ in rows}
            rows = [row for row in rows if (found := students.get(row[0])) is not None
                    and found.tags & tags]
        last = await uow.windows.last_inbound_at([wa_id for _, wa_id, _, _ in rows])
    items = [
        {"student_id": sid, "wa_id": wa_id, "requested_at": at.isoformat(),
         "waiting_seconds": int((now - at).total_seconds()), "assigned_to": owner,
         "window_left_seconds": int(window_left(last.get(wa_id), now).total_seconds())}
        for sid, wa_id, at, owner in rows
        if status == "all" or (owner is None) == (status == "waiting")
    ]
    return JSONResponse({"items": items})


def message_routes() -> list[Route]:
    return [
        Route("/api/conversations", list_conversations, methods=["GET"]),
        Route("/api/students/{phone}/messages", send_message, methods=["POST"]),
        Route("/api/students/{phone}/handoff/take", take_handoff, methods=["POST"]),
    ]
