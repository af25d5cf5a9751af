"""``/api/broadcasts``: template broadcasts for integrators (issue #16, docs/broadcasts.md).

``POST /api/broadcasts`` ``{"name", "template", "language"?, "params"?, "tags"?,
"all_tags"?, "to"?: students|guardians|both, "at"?: ISO, "dry_run"?}`` answers the preview
``{"id", "recipients", "excluded": {…}, "fit_today", "state"}`` (201; 200 for a dry run);
``GET /api/broadcasts`` lists the recent ones; ``GET /api/broadcasts/{id}`` gives its state
and counts; ``POST /api/broadcasts/{id}/pause|resume|cancel``;
``GET /api/broadcasts/{id}/results.csv`` each recipient's outcome. Coordinators and admins.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from eki_adapters.spreadsheets.errors_file import inert_csv_cell
from eki_domain.errors import InvalidInput
from eki_domain.model.broadcasts import Audience, Preview, RecipientResult
from eki_domain.model.pacing import failure_reason
from eki_domain.model.permissions import Action
from eki_domain.services.broadcasts import BroadcastSpec, BroadcastView
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.web.access import api, caller
from eki_entrypoints.web.errors import MAX_SQL_INTEGER, ApiError
from eki_entrypoints.web.limits import json_object

MAX_BODY_BYTES = 64 * 1024
#: Parameters a template may have (WhatsApp allows a handful; bounded anyway).
MAX_PARAMS = 20


def _strings(data: dict[str, Any], key: str, limit: int) -> tuple[str, ...]:
    value = data.get(key, [])
    if not isinstance(value, list) or len(value) > limit or not all(
            isinstance(v, str) and len(v) <= 1000 for v in value):
        raise ApiError(400, "BAD_BROADCAST", f"{key} must be a list of at most {limit} strings")
    return tuple(value)


def parse_when(raw: str, timezone: str) -> datetime:
    """An ISO date and time; without an offset it is read in ``EKI_TIMEZONE``."""
    try:
        moment = datetime.fromisoformat(raw.strip()[:40])
    except ValueError:
        raise InvalidInput("La fecha de envío debe tener el formato 2026-12-07T07:30.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(timezone))


def spec_from_json(data: dict[str, Any], timezone: str) -> BroadcastSpec:
    name, template = data.get("name"), data.get("template")
    language, to, at = data.get("language", "es"), data.get("to", "students"), data.get("at")
    if not all(isinstance(v, str) and len(v) <= 600 for v in (name, template, language, to)):
        raise ApiError(400, "BAD_BROADCAST", "name, template, language and to must be strings")
    if at is not None and not isinstance(at, str):
        raise ApiError(400, "BAD_BROADCAST", "at must be an ISO date and time")
    all_tags = data.get("all_tags", False)
    if not isinstance(all_tags, bool):
        raise ApiError(400, "BAD_BROADCAST", "all_tags must be true or false")
    return BroadcastSpec(
        name=str(name), template=str(template), language=str(language),
        params=_strings(data, "params", MAX_PARAMS),
        audience=Audience.of(_strings(data, "tags", 50), all_tags=all_tags, to=str(to)),
        scheduled_at=parse_when(at, timezone) if at else None)


def preview_json(broadcast_id: int | None, preview: Preview) -> dict[str, Any]:
    return {"id": broadcast_id, "recipients": preview.recipients,
            "excluded": preview.excluded_json(), "daily_limit": preview.daily_limit,
            "fit_today": preview.fit_today, "waiting": preview.waiting}


def view_json(view: BroadcastView) -> dict[str, Any]:
    return view.as_json()


def broadcast_id(request: Request) -> int:
    raw = request.path_params["broadcast_id"]
    if not isinstance(raw, int) or not 1 <= raw <= MAX_SQL_INTEGER:
        raise ApiError(404, "BROADCAST_NOT_FOUND", "no such broadcast")
    return raw


@api(Action.MANAGE_BROADCASTS)
async def create_broadcast(request: Request) -> JSONResponse:
    eki: Eki = request.app.state.eki
    data = await json_object(request, MAX_BODY_BYTES)
    dry_run = data.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise ApiError(400, "BAD_BROADCAST", "dry_run must be true or false")
    spec = spec_from_json(data, eki.settings.timezone)
    broadcast, preview = await eki.broadcasts.create(caller(request), spec, dry_run=dry_run)
    body = preview_json(broadcast.id, preview)
    body["state"] = None if dry_run else broadcast.state.value
    return JSONResponse(body, status_code=200 if dry_run else 201)


@api(Action.MANAGE_BROADCASTS)
async def list_broadcasts(request: Request) -> JSONResponse:
    eki: Eki = request.app.state.eki
    views = await eki.broadcasts.recent(caller(request))
    return JSONResponse({"items": [view_json(v) for v in views]})


@api(Action.MANAGE_BROADCASTS)
async def show_broadcast(request: Request) -> JSONResponse:
    eki: Eki = request.app.state.eki
    view = await eki.broadcasts.get(caller(request), broadcast_id(request))
    return JSONResponse(view_json(view))


@api(Action.MANAGE_BROADCASTS)
async def change_broadcast(request: Request) -> JSONResponse:
    eki: Eki = request.app.state.eki
    action = request.path_params["action"]
    if action not in ("pause", "resume", "cancel"):
        raise ApiError(404, "NOT_FOUND", "use pause, resume or cancel")
    broadcast = await getattr(eki.broadcasts, action)(caller(request), broadcast_id(request))
    return JSONResponse({"id": broadcast.id, "state": broadcast.state.value})


RESULT_HEADER = ("telefono", "estudiante_id", "estudiante", "estado", "codigo", "motivo",
                 "actualizado")


def results_csv(results: list[RecipientResult]) -> str:
    """The results file: every cell inert (a spreadsheet never runs a name as a formula)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(RESULT_HEADER)
    for r in results:
        writer.writerow([inert_csv_cell(v) for v in (
            "+" + r.to if r.to.isdigit() else r.to, r.student_id or "", r.student_name or "",
            r.status, r.error_code or "",
            failure_reason(r.error_code, r.error_title) if r.error_code else "",
            r.updated_at.isoformat())])
    return out.getvalue()


def csv_response(broadcast: int, results: list[RecipientResult]) -> Response:
    return Response(results_csv(results), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="difusion-{broadcast}.csv"'})


@api(Action.MANAGE_BROADCASTS)
async def broadcast_results(request: Request) -> Response:
    eki: Eki = request.app.state.eki
    wanted = broadcast_id(request)
    return csv_response(wanted, await eki.broadcasts.results(caller(request), wanted))


def broadcast_routes() -> list[Route]:
    return [
        Route("/api/broadcasts", create_broadcast, methods=["POST"]),
        Route("/api/broadcasts", list_broadcasts, methods=["GET"]),
        Route("/api/broadcasts/{broadcast_id:int}", show_broadcast, methods=["GET"]),
        Route("/api/broadcasts/{broadcast_id:int}/results.csv", broadcast_results,
              methods=["GET"]),
        Route("/api/broadcasts/{broadcast_id:int}/{action}", change_broadcast,
              methods=["POST"]),
    ]
