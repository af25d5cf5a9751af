"""``/api/students``: the registry over HTTP (admin token required)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from eki_domain.services.progress import report_to_dict
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.serialize import student_to_dict
from eki_entrypoints.web.auth import require_admin


async def get_progress(request: Request) -> JSONResponse:
    """The student's progress report (``?course=mate&period=P1``), as the tools see it."""
    require_admin(request)
    eki: Eki = request.app.state.eki
    student = await eki.registration.find(request.path_params["phone"])
    assert student.id is not None
    report = await eki.progress.report(student.id, course=request.query_params.get("course"),
                                       period=request.query_params.get("period"))
    return JSONResponse({"student": {"id": student.id, "name": student.name,
                                     "phone": student.phone.e164},
                         **report_to_dict(report)})


async def get_student(request: Request) -> JSONResponse:
    require_admin(request)
    eki: Eki = request.app.state.eki
    student = await eki.registration.find(request.path_params["phone"])
    return JSONResponse(student_to_dict(student))
