"""``/api/students``: the registry over HTTP (admin token required)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.serialize import student_to_dict
from eki_entrypoints.web.auth import require_admin


async def get_student(request: Request) -> JSONResponse:
    require_admin(request)
    eki: Eki = request.app.state.eki
    student = await eki.registration.find(request.path_params["phone"])
    return JSONResponse(student_to_dict(student))
