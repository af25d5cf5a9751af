"""Admin pages of template broadcasts (issue #16): ``/admin/difusiones`` lists them and
creates one (preview first, then send), ``/admin/difusiones/{id}`` follows one (a progress
bar refreshed from ``/admin/difusiones/{id}/estado`` every 2 s), ``…/resultados.csv``
downloads each recipient's outcome. Coordinators and admins only."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from eki_domain.errors import EkiError
from eki_domain.model.broadcasts import (
    Audience,
    BroadcastNotFound,
    Exclusion,
    Preview,
    RecipientKind,
)
from eki_domain.model.permissions import Action
from eki_domain.services.broadcasts import BroadcastSpec
from eki_entrypoints.web.access import caller
from eki_entrypoints.web.admin.auth import AdminContext, protected
from eki_entrypoints.web.admin.render import page
from eki_entrypoints.web.broadcasts import csv_response, parse_when

FIELDS = ("name", "template", "language", "tags", "all_tags", "to", "params", "at")
TO_LABELS = {RecipientKind.STUDENTS.value: "Estudiantes",
             RecipientKind.GUARDIANS.value: "Acudientes",
             RecipientKind.BOTH.value: "Estudiantes y acudientes"}


def _field(form: FormData | None, name: str, limit: int = 2000) -> str:
    value = form.get(name) if form is not None else None
    return str(value)[:limit] if isinstance(value, str) else ""


def _spec(values: dict[str, str], timezone: str) -> BroadcastSpec:
    tags = [t.strip() for t in values["tags"].replace(";", ",").split(",") if t.strip()]
    params = [p.strip() for p in values["params"].splitlines() if p.strip()]
    language, _, _ = (values["language"] or "es").partition(" ")
    return BroadcastSpec(
        name=values["name"], template=values["template"], language=language,
        params=tuple(params[:20]),
        audience=Audience.of(tags, all_tags=values["all_tags"] == "1",
                             to=values["to"] or "students"),
        scheduled_at=parse_when(values["at"], timezone) if values["at"] else None)


async def _page(request: Request, ctx: AdminContext, *, values: dict[str, str] | None = None,
                preview: Preview | None = None, error: str | None = None,
                status: int = 200) -> Response:
    views = await ctx.eki.broadcasts.recent(caller(request))
    templates = [t for t in await ctx.eki.templates.list() if t.sendable]
    return page(request, "broadcasts.html", ctx.base(
        nav="broadcasts", broadcasts=views, templates=templates,
        values=values or {**dict.fromkeys(FIELDS, ""), "language": "es", "to": "students"},
        preview=preview,
        exclusions=list(Exclusion), to_labels=TO_LABELS, error=error,
        daily_limit=ctx.eki.broadcasts.daily_limit), status=status)


@protected(Action.MANAGE_BROADCASTS)
async def broadcasts_page(request: Request, ctx: AdminContext) -> Response:
    return await _page(request, ctx)


@protected(Action.MANAGE_BROADCASTS)
async def create(request: Request, ctx: AdminContext) -> Response:
    values = {name: _field(ctx.form, name) for name in FIELDS}
    send = _field(ctx.form, "step") == "send"
    try:
        spec = _spec(values, ctx.eki.settings.timezone)
        broadcast, preview = await ctx.eki.broadcasts.create(caller(request), spec,
                                                             dry_run=not send)
    except EkiError as exc:
        return await _page(request, ctx, values=values, error=exc.message, status=422)
    if not send:
        return await _page(request, ctx, values=values, preview=preview)
    return RedirectResponse(f"/admin/difusiones/{broadcast.id}", status_code=303)


async def _view(request: Request, ctx: AdminContext) -> Any:
    return await ctx.eki.broadcasts.get(caller(request), request.path_params["broadcast_id"])


def _not_found(request: Request, ctx: AdminContext) -> Response:
    return page(request, "error.html", ctx.base(status=404,
                                                message="No existe esa difusión."), status=404)


@protected(Action.MANAGE_BROADCASTS)
async def follow(request: Request, ctx: AdminContext) -> Response:
    try:
        view = await _view(request, ctx)
    except BroadcastNotFound:
        return _not_found(request, ctx)
    return page(request, "broadcast.html", ctx.base(
        nav="broadcasts", view=view, b=view.broadcast, counts=view.counts,
        to_labels=TO_LABELS, exclusions=list(Exclusion),
        notice=request.query_params.get("hecho")))


@protected(Action.MANAGE_BROADCASTS)
async def progress(request: Request, ctx: AdminContext) -> Response:
    """The follow page's live data (polled every 2 s)."""
    try:
        view = await _view(request, ctx)
    except BroadcastNotFound:
        return JSONResponse({"error": {"code": "BROADCAST_NOT_FOUND"}}, status_code=404)
    body = view.as_json()
    body["state_label"] = view.broadcast.state.label
    return JSONResponse(body, headers={"cache-control": "no-store"})


@protected(Action.MANAGE_BROADCASTS)
async def results(request: Request, ctx: AdminContext) -> Response:
    wanted: int = request.path_params["broadcast_id"]
    try:
        found = await ctx.eki.broadcasts.results(caller(request), wanted)
    except BroadcastNotFound:
        return _not_found(request, ctx)
    return csv_response(wanted, found)


@protected(Action.MANAGE_BROADCASTS)
async def change(request: Request, ctx: AdminContext) -> Response:
    wanted: int = request.path_params["broadcast_id"]
    action = request.path_params["action"]
    methods = {"pausar": "pause", "reanudar": "resume", "cancelar": "cancel"}
    if action not in methods:
        return _not_found(request, ctx)
    try:
        await getattr(ctx.eki.broadcasts, methods[action])(caller(request), wanted)
    except BroadcastNotFound:
        return _not_found(request, ctx)
    except EkiError as exc:
        return page(request, "error.html", ctx.base(status=409, message=exc.message),
                    status=409)
    return RedirectResponse(f"/admin/difusiones/{wanted}?hecho={action}", status_code=303)
