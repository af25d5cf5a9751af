"""``/api/students``: the registry over HTTP (a bearer token whose principal may see the
student; a teacher outside the student's tags gets 404)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from eki_domain.model.audit import AuditAction
from eki_domain.model.permissions import Action
from eki_domain.model.student import Student
from eki_domain.services.progress import report_to_dict
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.families import family_service, guardian_link_dict
from eki_entrypoints.serialize import student_to_dict
from eki_entrypoints.web.access import api, audit, require_student


async def visible_student(request: Request, action: Action, page: str) -> Student:
    """The student of ``{phone}`` when the principal may do ``action`` to it (404
    otherwise, whether it exists or not), the view audited as ``student.viewed``."""
    eki: Eki = request.app.state.eki
    reference = request.path_params["phone"]
    student = await eki.registration.find(reference)
    require_student(request, action, student, reference)
    await audit(request, AuditAction.STUDENT_VIEWED, target_type="student",
                target_id=str(student.id), page=page, via="api")
    return student


@api(Action.VIEW_STUDENT)
async def get_progress(request: Request) -> JSONResponse:
    """The student's progress report (``?course=mate&period=P1``), as the tools see it."""
    eki: Eki = request.app.state.eki
    student = await visible_student(request, Action.VIEW_STUDENT, "progress")
    assert student.id is not None
    report = await eki.progress.report(student.id, course=request.query_params.get("course"),
                                       period=request.query_params.get("period"))
    return JSONResponse({"student": {"id": student.id, "name": student.name,
                                     "phone": student.phone.e164},
                         **report_to_dict(report)})


@api(Action.VIEW_STUDENT)
async def get_student(request: Request) -> JSONResponse:
    """The profile, with the student's guardians (relationship, flags, priority)."""
    eki: Eki = request.app.state.eki
    student = await visible_student(request, Action.VIEW_STUDENT, "profile")
    links = await family_service(eki).of_student(student)
    return JSONResponse({**student_to_dict(student),
                         "guardians": [guardian_link_dict(item) for item in links]})
