"""``/admin/privacidad``: the register of data requests, and a person's data on request
(export as JSON, erasure after a confirmation step). Admins and coordinators only
(:data:`Action.MANAGE_PRIVACY`); see docs/privacy.md."""

from __future__ import annotations

import asyncio
import json

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from eki_domain.errors import EkiError
from eki_domain.model.permissions import Action
from eki_domain.model.phone import PhoneNumber
from eki_domain.model.privacy import RequestKind
from eki_domain.services.privacy import PrivacyDesk
from eki_entrypoints.web.access import caller
from eki_entrypoints.web.admin.auth import AdminContext, protected
from eki_entrypoints.web.admin.render import page

PHONE_MAX = 40
CONFIRM_WORD = "BORRAR"


def _field(ctx: AdminContext, name: str, limit: int) -> str:
    value = ctx.form.get(name) if ctx.form is not None else None
    return value.strip()[:limit] if isinstance(value, str) else ""


def _desk(ctx: AdminContext) -> PrivacyDesk:
    return ctx.eki.privacy


async def _register(request: Request, ctx: AdminContext, *, status: int = 200,
                    error: str | None = None, notice: str | None = None,
                    phone: str = "") -> Response:
    desk = _desk(ctx)
    show_all = request.query_params.get("todas") == "1"
    found = await desk.requests(caller(request), open_only=not show_all)
    today = desk.today()
    rows = [{"request": r, "days_left": r.business_days_left(today),
             "late": r.is_open and r.due_on < today, "soon": r.due_soon(today),
             "who": PhoneNumber.parse(r.phone).masked if r.phone else r.reference}
            for r in found]
    return page(request, "privacy.html", ctx.base(
        nav="privacy", rows=rows, show_all=show_all, error=error, notice=notice,
        phone=phone, kinds=[k.value for k in RequestKind],
        retention=ctx.eki.settings.retention()), status=status)


class _NoPhoneError(Exception):
    """The form's phone is blank or too long."""


def _phone(ctx: AdminContext) -> PhoneNumber:
    raw = _field(ctx, "phone", PHONE_MAX + 1)
    if not raw or len(raw) > PHONE_MAX:
        raise _NoPhoneError
    return PhoneNumber.parse(raw, ctx.eki.settings.default_country)


@protected(Action.MANAGE_PRIVACY)
async def register(request: Request, ctx: AdminContext) -> Response:
    notice = {"abierta": "Solicitud registrada.", "cerrada": "Solicitud cerrada."}.get(
        request.query_params.get("hecho", ""))
    return await _register(request, ctx, notice=notice)


@protected(Action.MANAGE_PRIVACY)
async def open_request(request: Request, ctx: AdminContext) -> Response:
    try:
        phone = _phone(ctx)
        kind = RequestKind.parse(_field(ctx, "kind", 20))
        await _desk(ctx).open_request(caller(request), phone, kind, _field(ctx, "note", 500))
    except (_NoPhoneError, EkiError) as exc:
        message = exc.message if isinstance(exc, EkiError) else "Escriba el teléfono."
        return await _register(request, ctx, status=400, error=message)
    return RedirectResponse("/admin/privacidad?hecho=abierta", status_code=303)


@protected(Action.MANAGE_PRIVACY)
async def close_request(request: Request, ctx: AdminContext) -> Response:
    try:
        await _desk(ctx).close_request(caller(request), request.path_params["request_id"])
    except EkiError as exc:
        return await _register(request, ctx, status=400, error=exc.message)
    return RedirectResponse("/admin/privacidad?hecho=cerrada", status_code=303)


@protected(Action.MANAGE_PRIVACY)
async def export(request: Request, ctx: AdminContext) -> Response:
    """The JSON document, downloaded (POST: it is audited and carries the CSRF token)."""
    try:
        phone = _phone(ctx)
    except (_NoPhoneError, EkiError) as exc:
        message = exc.message if isinstance(exc, EkiError) else "Escriba el teléfono."
        return await _register(request, ctx, status=400, error=message)
    document = await _desk(ctx).export(caller(request), phone)
    # up to EXPORT_MAX_ROWS rows a section: serialised off the event loop
    body = await asyncio.to_thread(
        lambda: json.dumps(document.as_dict(), ensure_ascii=False, indent=2))
    name = f"datos-{document.reference.removeprefix('ref:')}.json"
    return Response(body, media_type="application/json; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store"})


@protected(Action.MANAGE_PRIVACY)
async def erase(request: Request, ctx: AdminContext) -> Response:
    """First POST: what would go and a confirmation form; second POST with the word
    BORRAR typed: the erasure and its report."""
    try:
        phone = _phone(ctx)
    except (_NoPhoneError, EkiError) as exc:
        message = exc.message if isinstance(exc, EkiError) else "Escriba el teléfono."
        return await _register(request, ctx, status=400, error=message)
    keep = _field(ctx, "keep_academic", 5) == "1"
    desk = _desk(ctx)
    confirmation = _field(ctx, "confirm", 20)
    if _field(ctx, "step", 10) != "confirm" or confirmation.upper() != CONFIRM_WORD:
        person, rows = await desk.preview_erase(caller(request), phone)
        return page(request, "privacy_erase.html", ctx.base(
            nav="privacy", phone=phone.e164, masked=phone.masked, person=person, rows=rows,
            keep=keep, report=None, word=CONFIRM_WORD,
            error="Escriba BORRAR para confirmar." if _field(ctx, "step", 10) else None))
    try:
        report = await desk.erase(caller(request), phone, keep_academic=keep)
    except EkiError as exc:
        return await _register(request, ctx, status=400, error=exc.message)
    return page(request, "privacy_erase.html", ctx.base(
        nav="privacy", phone="", masked=phone.masked, person=None, rows=0, keep=keep,
        report=report, word=CONFIRM_WORD, error=None))
