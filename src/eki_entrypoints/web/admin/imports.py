"""The import pages: upload → dry-run preview with the row issues → confirm → result, the
errors file, and the history. Students and gradebooks (grades, attendance, enrolments)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from eki_adapters.spreadsheets import MAX_UPLOAD_BYTES
from eki_adapters.spreadsheets.errors_file import ErrorsFormat, write_errors_file
from eki_domain.model.audit import AuditAction
from eki_domain.model.gradebook import ProgressKind
from eki_domain.model.imports import (
    ImportFileError,
    ImportInProgress,
    ImportMode,
    ImportStatus,
    Severity,
)
from eki_domain.model.permissions import Action
from eki_domain.services.imports import ImportResult, ImportService
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.web.access import audit
from eki_entrypoints.web.admin.auth import AdminContext, guard, protected
from eki_entrypoints.web.admin.render import page
from eki_entrypoints.web.admin.staging import UploadStaging

TARGETS = {"students": "Estudiantes", "progress": "Notas, asistencia o matrículas"}
KINDS = {"": "Detectar por las columnas", "grades": "Notas", "attendance": "Asistencia",
         "enrollments": "Matrículas"}
HISTORY_ROWS = 30
ISSUES_SHOWN = 200

upload_guard = guard(Action.RUN_IMPORT, form_bytes=MAX_UPLOAD_BYTES + 64 * 1024, max_files=1)


def staging(request: Request) -> UploadStaging:
    found = getattr(request.app.state, "admin_uploads", None)
    return found if isinstance(found, UploadStaging) else UploadStaging.default()


def _action(target: str) -> Action:
    """Students and gradebooks are two permissions (and two audit actions)."""
    return Action.RUN_IMPORT if target == "students" else Action.RUN_PROGRESS_IMPORT


def _service(eki: Eki, target: str) -> ImportService:
    return eki.student_import if target == "students" else eki.progress_import


async def _history(ctx: AdminContext, kind: str | None = None) -> list[Any]:
    async with ctx.eki.uow() as uow:
        return list(await uow.imports.recent(kind=kind, limit=HISTORY_ROWS))


async def _form_page(request: Request, ctx: AdminContext, *, status: int = 200,
                     error: str | None = None) -> Response:
    kind = request.query_params.get("kind") or None
    if kind not in (None, *TARGETS):
        kind = None
    return page(request, "imports.html", ctx.base(
        nav="imports", targets=TARGETS, kinds=KINDS, history=await _history(ctx, kind),
        history_kind=kind or "", error=error), status=status)


@protected(Action.VIEW_IMPORTS)
async def imports_page(request: Request, ctx: AdminContext) -> Response:
    return await _form_page(request, ctx)


async def _run(ctx: AdminContext, *, target: str, kind: str, strict: bool, data: bytes,
               filename: str, dry_run: bool) -> ImportResult:
    eki = ctx.eki
    service = _service(eki, target)
    mode = ImportMode.STRICT if strict else ImportMode.DEFAULT
    sheet = await service.load(lambda: eki.reader.read(data, filename), filename=filename,
                               content=data, mode=mode, dry_run=dry_run)
    if target == "students":
        return await eki.student_import.import_sheet(sheet, mode=mode, dry_run=dry_run)
    return await eki.progress_import.import_sheet(
        sheet, kind=ProgressKind(kind) if kind else None, mode=mode, dry_run=dry_run)


def _report_context(result: ImportResult) -> dict[str, Any]:
    report = result.report
    errors = [i for i in report.issues if i.severity is Severity.ERROR]
    warnings = [i for i in report.issues if i.severity is Severity.WARNING]
    return {"report": report, "issues": report.issues[:ISSUES_SHOWN],
            "issues_hidden": max(0, len(report.issues) - ISSUES_SHOWN),
            "error_count": len(errors), "warning_count": len(warnings),
            "job_id": result.job_id, "has_errors_file": bool(result.failed_rows)}


@upload_guard
async def preview(request: Request, ctx: AdminContext) -> Response:
    assert ctx.form is not None
    target = str(ctx.form.get("target") or "")
    kind = str(ctx.form.get("kind") or "")
    strict = ctx.form.get("strict") == "1"
    upload = ctx.form.get("file")
    if target not in TARGETS or kind not in KINDS:
        return await _form_page(request, ctx, status=400,
                                error="Elija qué quiere importar y vuelva a intentarlo.")
    if not ctx.may(_action(target)):
        return await _form_page(request, ctx, status=403,
                                error="Su rol no permite esta importación.")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return await _form_page(request, ctx, status=400,
                                error="Elija un archivo .xlsx o .csv para importar.")
    data = await upload.read()
    if not data:
        return await _form_page(request, ctx, status=400, error="El archivo está vacío.")
    filename = upload.filename[:255]
    try:
        result = await _run(ctx, target=target, kind=kind, strict=strict, data=data,
                            filename=filename, dry_run=True)
    except (ImportFileError, ImportInProgress) as exc:
        return await _form_page(request, ctx, status=422 if isinstance(
            exc, ImportFileError) else 409, error=exc.message)
    report = result.report
    can_confirm = (report.status is ImportStatus.DRY_RUN
                   and report.created + report.updated > 0)
    sha256 = staging(request).put(data, {"target": target, "kind": kind, "strict": strict,
                                         "filename": filename}) if can_confirm else None
    return page(request, "import_preview.html", ctx.base(
        nav="imports", target=target, target_label=TARGETS[target], kind_label=KINDS[kind],
        strict=strict, upload=sha256, can_confirm=can_confirm, **_report_context(result)))


@protected(Action.RUN_IMPORT)
async def confirm(request: Request, ctx: AdminContext) -> Response:
    assert ctx.form is not None
    sha256 = str(ctx.form.get("upload") or "")
    store = staging(request)
    staged = store.get(sha256)
    if staged is None:
        return await _form_page(request, ctx, status=410, error=(
            "La vista previa caducó o ya se importó. Suba el archivo de nuevo."))
    data, meta = staged
    if ctx.form.get("target") != meta.get("target"):
        return await _form_page(request, ctx, status=409, error=(
            "La confirmación no corresponde a la vista previa. Suba el archivo de nuevo."))
    target, kind = str(meta["target"]), str(meta.get("kind") or "")
    try:
        result = await _run(ctx, target=target, kind=kind, strict=bool(meta.get("strict")),
                            data=data, filename=str(meta.get("filename") or "archivo"),
                            dry_run=False)
    except (ImportFileError, ImportInProgress) as exc:
        return await _form_page(request, ctx, status=422 if isinstance(
            exc, ImportFileError) else 409, error=exc.message)
    store.discard(sha256)
    await audit(request, _action(target).value, target_type="import",
                target_id=str(result.job_id),
                created=result.report.created, updated=result.report.updated)
    return page(request, "import_result.html", ctx.base(
        nav="imports", target=target, target_label=TARGETS[target], **_report_context(result)))


@protected(Action.EXPORT)
async def errors_file(request: Request, ctx: AdminContext) -> Response:
    job_id: int = request.path_params["job_id"]
    fmt: ErrorsFormat = "csv" if request.query_params.get("format") == "csv" else "xlsx"
    async with ctx.eki.uow() as uow:
        failed = await uow.imports.failed_rows(job_id)
    if failed is None:
        return page(request, "error.html", ctx.base(
            status=404, message="Esa importación no tiene filas rechazadas."), status=404)
    headers, rows = failed
    await audit(request, AuditAction.EXPORT_DOWNLOADED, target_type="import",
                target_id=str(job_id), file="errors", format=fmt)
    media = ("text/csv; charset=utf-8" if fmt == "csv" else
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    return Response(write_errors_file(headers, rows, fmt), media_type=media, headers={
        "Content-Disposition": f'attachment; filename="errores-importacion-{job_id}.{fmt}"',
        "Cache-Control": "no-store"})
