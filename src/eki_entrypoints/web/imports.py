"""Student imports over HTTP: ``POST /api/students/import`` (JSON array or multipart
upload) and the seed system's ``POST /api/estudiantes/importar/`` contract."""

from __future__ import annotations

import json
from typing import Any

import phonenumbers
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from eki_adapters.spreadsheets import MAX_UPLOAD_BYTES
from eki_adapters.spreadsheets.errors_file import ErrorsFormat, write_errors_file
from eki_adapters.spreadsheets.reader import check_json_bounds, sheet_from_json
from eki_domain.model.audit import AuditAction
from eki_domain.model.gradebook import ProgressKind
from eki_domain.model.imports import (
    ImportFileError,
    ImportMode,
    ImportStatus,
    Severity,
    Sheet,
    map_headers,
)
from eki_domain.model.permissions import Action
from eki_domain.model.roster import STUDENT_FIELDS
from eki_domain.services.imports import ImportResult, ImportService
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.web.access import api, audit
from eki_entrypoints.web.errors import MAX_SQL_INTEGER, ApiError
from eki_entrypoints.web.limits import limited, read_body

TRUE_WORDS = {"1", "true", "yes", "si", "sí", "on"}


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").strip().lower() in TRUE_WORDS


def _country(request: Request) -> str | None:
    raw = request.query_params.get("country")
    if raw is None:
        return None
    region = raw.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ApiError(400, "BAD_COUNTRY", f"country={raw!r} is not a region code like CO")
    return region


def _json(data: bytes) -> object:
    try:
        check_json_bounds(data, "api.json")
    except ImportFileError as exc:
        raise ApiError(422, exc.code, exc.message) from None
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, "INVALID_JSON", f"body is not valid JSON: {exc}") from None
    except RecursionError:  # 200,000 nested "[": refused, never a crash
        raise ApiError(400, "INVALID_JSON", "body is nested too deeply") from None


async def _upload_from_request(request: Request) -> tuple[bytes, str | None]:
    """(bytes, filename) of a multipart upload, or (JSON body, None)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        async with limited(request, MAX_UPLOAD_BYTES).form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise ApiError(400, "FILE_REQUIRED",
                               "send the spreadsheet in a multipart field named 'file'")
            data = await upload.read()
            filename = upload.filename or "archivo"
        return data, filename
    if content_type in ("application/json", ""):
        return await read_body(request, MAX_UPLOAD_BYTES, unauthenticated=False), None
    raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE",
                   "send application/json (a list of rows) or multipart/form-data (a file)")


async def _run(request: Request, target: str = "students") -> tuple[ImportResult, Sheet]:
    eki: Eki = request.app.state.eki
    service: ImportService = eki.student_import if target == "students" else \
        eki.progress_import
    kind: ProgressKind | None = None
    if target == "progress" and request.query_params.get("kind"):
        try:
            kind = ProgressKind(request.query_params["kind"])
        except ValueError:
            raise ApiError(400, "BAD_KIND", "kind must be grades, attendance or enrollments"
                           ) from None
    region = _country(request)
    mode = ImportMode.STRICT if _flag(request, "strict") else ImportMode.DEFAULT
    dry_run = _flag(request, "dry_run")
    data, filename = await _upload_from_request(request)
    if filename:
        sheet = await service.load(lambda: eki.reader.read(data, filename), filename=filename,
                                   content=data, mode=mode, dry_run=dry_run)
    else:
        # Counted and parsed in the reader's thread, as a file is: 50 MB of JSON would
        # hold the event loop for half a second.
        sheet = await service.load(lambda: sheet_from_json(_json(data), "api.json"),
                                   filename="api.json", content=data, mode=mode,
                                   dry_run=dry_run)
    if target == "students":
        result = await eki.student_import.import_sheet(sheet, mode=mode, dry_run=dry_run,
                                                       region=region)
    else:
        result = await eki.progress_import.import_sheet(sheet, kind=kind, mode=mode,
                                                        dry_run=dry_run, region=region)
    if not dry_run:
        await audit(request, AuditAction.IMPORT_RUN if target == "students"
                    else AuditAction.PROGRESS_IMPORT_RUN, target_type="import",
                    target_id=str(result.job_id), created=result.report.created,
                    updated=result.report.updated, via="api")
    return result, sheet


def _status_code(result: ImportResult) -> int:
    return 422 if result.report.status is ImportStatus.REJECTED else 200


@api(Action.RUN_IMPORT)
async def import_students(request: Request) -> Response:
    """Returns the import report. ``?dry_run=1`` simulates, ``?strict=1`` is all-or-nothing,
    ``?country=MX`` reads phones without a country code as Mexican."""
    result, _sheet = await _run(request)
    body = result.report.as_dict()
    body["job_id"] = result.job_id
    return JSONResponse(body, status_code=_status_code(result))


@api(Action.RUN_PROGRESS_IMPORT)
async def import_progress(request: Request) -> Response:
    """Grades, attendance or enrolments: JSON rows or a multipart ``file``; ``?kind=`` to
    skip detection; the same ``dry_run``/``strict``/``country`` options and report."""
    result, _sheet = await _run(request, "progress")
    body = result.report.as_dict()
    body["job_id"] = result.job_id
    return JSONResponse(body, status_code=_status_code(result))


@api(Action.RUN_IMPORT)
async def importar_estudiantes(request: Request) -> Response:
    """The seed system's contract: ``[{"nombre", "telefono", "activo"?, "etiquetas"?}]`` →
    ``{"success", "creados", "errores": ["<telefono>: <mensaje>"], ...report}``."""
    result, sheet = await _run(request)
    report = result.report
    phones = _phones_by_row(sheet)
    errores = [
        f"{phones.get(issue.row, '')}: {issue.message}"
        for issue in report.issues
        if issue.severity is Severity.ERROR
    ]
    body: dict[str, Any] = {
        "success": report.status is not ImportStatus.REJECTED,
        "creados": report.created,
        "actualizados": report.updated,
        "sin_cambios": report.unchanged,
        "errores": errores,
        "job_id": result.job_id,
        **report.as_dict(),
    }
    return JSONResponse(body, status_code=_status_code(result))


def _phones_by_row(sheet: Sheet) -> dict[int, str]:
    """The raw phone of each row, found through the import's own header mapping."""
    mapping = map_headers(sheet, STUDENT_FIELDS)
    return {
        number: "" if (raw := mapping.cell(cells, "phone")) is None else str(raw)
        for number, cells in sheet.rows
        if number > mapping.header_row
    }


@api(Action.VIEW_IMPORTS)
async def import_history(request: Request) -> Response:
    eki: Eki = request.app.state.eki
    kind = request.query_params.get("kind")
    async with eki.uow() as uow:
        records = await uow.imports.recent(kind=kind, limit=50)
    return JSONResponse({"items": [
        {**{k: getattr(r, k) for k in ("id", "kind", "file", "sha256", "mode", "dry_run",
                                        "status", "rows_read", "created", "updated",
                                        "unchanged", "errors", "warnings", "duration_ms",
                                        "message")},
         "finished_at": r.finished_at.isoformat()}
        for r in records
    ]})


@api(Action.EXPORT)
async def import_errors_file(request: Request) -> Response:
    """The rejected rows of import ``job_id`` as .xlsx (default) or ``?format=csv``."""
    eki: Eki = request.app.state.eki
    try:
        job_id = int(request.path_params["job_id"])
        if not 0 < job_id <= MAX_SQL_INTEGER:
            raise ValueError("out of range")
    except ValueError:
        raise ApiError(404, "NOT_FOUND", "no such import") from None
    fmt: ErrorsFormat = "csv" if request.query_params.get("format") == "csv" else "xlsx"
    async with eki.uow() as uow:
        failed = await uow.imports.failed_rows(job_id)
    if failed is None:
        raise ApiError(404, "NOT_FOUND", f"import {job_id} has no rejected rows")
    headers, rows = failed
    await audit(request, AuditAction.EXPORT_DOWNLOADED, target_type="import",
                target_id=str(job_id), file="errors", format=fmt, via="api")
    content = write_errors_file(headers, rows, fmt)
    media = ("text/csv; charset=utf-8" if fmt == "csv" else
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(content, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="errores-importacion-{job_id}.{fmt}"'})
