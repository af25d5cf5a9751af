"""``/api/guardians`` and ``/api/codes/pending``: families and code approvals over HTTP
(issue 17, docs/families.md).

Reading a guardian is part of reading students (``LIST_STUDENTS`` / ``VIEW_STUDENT``): a
teacher sees the guardians of their own students, and of each guardian only the links to
those students; a guardian of none of them is 404. Changing links needs
``MANAGE_GUARDIANS``; approving or rejecting a redemption ``MANAGE_CODES``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from eki_domain.errors import CodeNotPending, InvalidInput, InvalidPhoneNumber, StudentNotFound
from eki_domain.model.guardian import parse_relationship
from eki_domain.model.permissions import Action
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.student import normalize_name
from eki_domain.services.families import GUARDIAN_VIEWED, MAX_PRIORITY
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.families import (
    card_to_dict,
    code_desk,
    family_service,
    pending_to_dict,
)
from eki_entrypoints.web.access import api, audit, caller, scope
from eki_entrypoints.web.errors import MAX_SQL_INTEGER, ApiError, page_request
from eki_entrypoints.web.limits import json_object

#: A guardian request is a handful of short fields.
MAX_BODY_BYTES = 16 * 1024
#: Longer path or query phones are refused before parsing.
MAX_PHONE_CHARS = 40
LINK_FIELDS = ("relationship", "may_see_grades", "may_receive_alerts", "priority")
NEW_FIELDS = ("name", "phone", "student", "relationship", "may_see_grades",
              "may_receive_alerts")


class FieldErrors(ApiError):
    """422 with one Spanish sentence per field: ``{"error": {…, "fields": {…}}}``."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(422, "INVALID_INPUT", "Revise los campos marcados: "
                         + "; ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


def field_errors_response(exc: FieldErrors) -> JSONResponse:
    return JSONResponse({"error": {"code": exc.code, "message": exc.message,
                                   "fields": exc.fields}}, status_code=422)


def _phone(value: object, region: str) -> PhoneNumber:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidInput("Escriba el número como texto, por ejemplo 3001234567.")
    text = str(value)
    if len(text) > MAX_PHONE_CHARS:
        raise InvalidInput("El número es demasiado largo.")
    return PhoneNumber.parse(text, region)


def _name(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("Escriba el nombre completo del acudiente.")
    try:
        return normalize_name(value)
    except InvalidInput as exc:
        raise InvalidInput(exc.message.replace("del estudiante", "del acudiente")) from None


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput("Debe ser true o false.")
    return value


def _priority(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_PRIORITY:
        raise InvalidInput(f"Un número de 1 a {MAX_PRIORITY} (1 = primer contacto).")
    return value


def _relationship(value: object) -> str:
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput("Escriba madre, padre, acudiente u otro.")
    return parse_relationship(value).value


def validate(data: dict[str, Any], allowed: tuple[str, ...], required: tuple[str, ...],
             region: str) -> dict[str, Any]:
    """The clean values of ``data``, or :class:`FieldErrors` naming every bad field."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for key in list(data)[:50]:
        if key not in allowed:
            errors[str(key)[:40]] = "Campo desconocido."
    checks = {"name": _name, "phone": lambda v: _phone(v, region),
              "student": lambda v: _phone(v, region), "relationship": _relationship,
              "may_see_grades": _flag, "may_receive_alerts": _flag, "priority": _priority}
    for key in allowed:
        if key not in data or data[key] is None:
            if key in required:
                errors[key] = "Este campo es obligatorio."
            continue
        try:
            clean[key] = checks[key](data[key])
        except InvalidInput as exc:
            errors[key] = exc.message
    if not errors and "phone" in clean and "student" in clean \
            and clean["phone"].e164 == clean["student"].e164:
        errors["phone"] = "El acudiente no puede tener el mismo teléfono del estudiante."
    if errors:
        raise FieldErrors(errors)
    return clean


def _path_phone(request: Request, name: str) -> str:
    raw = str(request.path_params[name])
    if len(raw) > MAX_PHONE_CHARS:
        raise ApiError(404, "NOT_FOUND", "no guardian or student with that phone")
    return raw


@api(Action.LIST_STUDENTS)
async def list_guardians(request: Request) -> JSONResponse:
    """``GET /api/guardians[?student=PHONE&q=TEXT&limit=&offset=]``, by name."""
    eki: Eki = request.app.state.eki
    page = page_request(request)
    student = request.query_params.get("student") or None
    if student is not None and len(student) > MAX_PHONE_CHARS:
        raise InvalidPhoneNumber("El número es demasiado largo.", code="TOO_LONG")
    search = request.query_params.get("q", "").strip()[:100] or None
    found = await family_service(eki).page(search=search, student_phone=student,
                                           any_tags=scope(request), page=page)
    return JSONResponse({"items": [card_to_dict(card) for card in found.items],
                         "total": found.total, "limit": found.limit,
                         "offset": found.offset, "has_more": found.has_more})


@api(Action.VIEW_STUDENT)
async def get_guardian(request: Request) -> JSONResponse:
    """One guardian with the students linked (a teacher: their own students only)."""
    eki: Eki = request.app.state.eki
    card = await family_service(eki).card(_path_phone(request, "guardian"),
                                          any_tags=scope(request))
    await audit(request, GUARDIAN_VIEWED, target_type="guardian",
                target_id=str(card.guardian.id), via="api")
    return JSONResponse(card_to_dict(card))


@api(Action.MANAGE_GUARDIANS)
async def add_guardian(request: Request) -> JSONResponse:
    """``POST /api/guardians``: create the guardian if new and link a student (201); the
    link existing already is 409 (change it with PATCH)."""
    eki: Eki = request.app.state.eki
    try:
        clean = validate(await json_object(request, MAX_BODY_BYTES), NEW_FIELDS,
                         ("name", "phone", "student"), eki.settings.default_country)
    except FieldErrors as exc:
        return field_errors_response(exc)
    service = family_service(eki)
    try:
        guardian, _student = await service.add(
            caller(request), clean["name"], clean["phone"].e164,
            student_phone=clean["student"].e164, relationship=clean.get("relationship"),
            may_see_grades=clean.get("may_see_grades", True),
            may_receive_alerts=clean.get("may_receive_alerts", True), replace=False,
            via="api")
    except StudentNotFound as exc:
        return field_errors_response(FieldErrors({"student": exc.message}))
    card = await service.card(guardian.phone.e164)
    return JSONResponse(card_to_dict(card), status_code=201)


@api(Action.MANAGE_GUARDIANS)
async def update_link(request: Request) -> JSONResponse:
    """``PATCH /api/guardians/{guardian}/students/{phone}``: relationship, flags,
    priority (the fields sent; the others stay)."""
    eki: Eki = request.app.state.eki
    guardian, student = _path_phone(request, "guardian"), _path_phone(request, "phone")
    try:
        clean = validate(await json_object(request, MAX_BODY_BYTES), LINK_FIELDS, (),
                         eki.settings.default_country)
    except FieldErrors as exc:
        return field_errors_response(exc)
    service = family_service(eki)
    await service.update_link(caller(request), guardian, student_phone=student,
                              relationship=clean.get("relationship"),
                              may_see_grades=clean.get("may_see_grades"),
                              may_receive_alerts=clean.get("may_receive_alerts"),
                              priority=clean.get("priority"), via="api")
    return JSONResponse(card_to_dict(await service.card(guardian)))


@api(Action.MANAGE_GUARDIANS)
async def unlink_guardian(request: Request) -> JSONResponse:
    """``DELETE /api/guardians/{guardian}/students/{phone}``; 404 when not linked."""
    eki: Eki = request.app.state.eki
    guardian, student = _path_phone(request, "guardian"), _path_phone(request, "phone")
    if not await family_service(eki).unlink(caller(request), guardian,
                                            student_phone=student, via="api"):
        raise ApiError(404, "NOT_LINKED", "that guardian is not linked to that student")
    return JSONResponse({"unlinked": True})


@api(Action.MANAGE_CODES)
async def pending_codes(request: Request) -> JSONResponse:
    """Redeemed codes waiting for a coordinator (``EKI_CODE_APPROVAL=1``), oldest first."""
    eki: Eki = request.app.state.eki
    pending = await code_desk(eki).pending()
    return JSONResponse({"approval": eki.settings.code_approval,
                         "items": [pending_to_dict(code, student)
                                   for code, student in pending]})


async def _decide(request: Request, *, approve: bool) -> JSONResponse:
    eki: Eki = request.app.state.eki
    code_id: int = request.path_params["code_id"]
    if not 0 <= code_id <= MAX_SQL_INTEGER:
        raise CodeNotPending(code_id)
    done = await code_desk(eki).decide(caller(request), code_id, approve=approve, via="api",
                                       notify_channel=eki.channel.name)
    return JSONResponse({**pending_to_dict(done.code, done.student),
                         "state": "approved" if approve else "rejected",
                         "notified": done.notified})


@api(Action.MANAGE_CODES)
async def approve_code(request: Request) -> JSONResponse:
    return await _decide(request, approve=True)


@api(Action.MANAGE_CODES)
async def reject_code(request: Request) -> JSONResponse:
    return await _decide(request, approve=False)


def guardian_routes() -> list[Route]:
    return [
        Route("/api/guardians", list_guardians, methods=["GET"]),
        Route("/api/guardians", add_guardian, methods=["POST"]),
        Route("/api/guardians/{guardian}", get_guardian, methods=["GET"]),
        Route("/api/guardians/{guardian}/students/{phone}", update_link, methods=["PATCH"]),
        Route("/api/guardians/{guardian}/students/{phone}", unlink_guardian,
              methods=["DELETE"]),
        Route("/api/codes/pending", pending_codes, methods=["GET"]),
        Route("/api/codes/pending/{code_id:int}/approve", approve_code, methods=["POST"]),
        Route("/api/codes/pending/{code_id:int}/reject", reject_code, methods=["POST"]),
    ]
