"""The one place where errors become HTTP responses."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from eki_domain.errors import (
    CodeNotPending,
    DuplicateGuardianLink,
    DuplicateGuardianPhone,
    DuplicatePhone,
    EkiError,
    GuardianNotFound,
    InvalidCredentials,
    InvalidInput,
    SignInLocked,
    StudentNotFound,
)
from eki_domain.model.broadcasts import BroadcastNotFound, BroadcastStateError
from eki_domain.model.imports import ImportFileError, ImportInProgress
from eki_domain.model.pagination import MAX_PAGE_SIZE, PageRequest
from eki_domain.model.permissions import PermissionDenied

log = logging.getLogger("eki.web")


class ApiError(Exception):
    """An HTTP-level refusal (auth, limits) with a stable code and an English message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


#: The largest id or offset a database column takes (BIGINT); beyond it: 404 / 400.
MAX_SQL_INTEGER = 2**63 - 1


def _body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _status_for(exc: EkiError) -> int:
    if isinstance(exc, ImportFileError):
        return 422
    if isinstance(exc, ImportInProgress | BroadcastStateError):
        return 409
    if isinstance(exc, StudentNotFound | GuardianNotFound | CodeNotPending | BroadcastNotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, InvalidCredentials):
        return 401
    if isinstance(exc, SignInLocked):
        return 429
    if isinstance(exc, DuplicatePhone | DuplicateGuardianPhone | DuplicateGuardianLink):
        return 409
    if isinstance(exc, InvalidInput):
        return 422
    return 400


async def handle_eki_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, EkiError)
    return JSONResponse(_body(exc.code, exc.message), status_code=_status_for(exc))


async def handle_api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(_body(exc.code, exc.message), status_code=exc.status, headers=exc.headers)


async def handle_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return JSONResponse(
        _body(f"HTTP_{exc.status_code}", str(exc.detail)),
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def handle_unexpected(_request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return JSONResponse(
        _body("INTERNAL_ERROR", "unexpected server error; see the server log"), status_code=500
    )


EXCEPTION_HANDLERS = {
    EkiError: handle_eki_error,
    ApiError: handle_api_error,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}


def page_request(request: Request) -> PageRequest:
    """``?limit=&offset=`` of a paginated /api listing (400 ``BAD_PAGE`` when out of range)."""
    try:
        limit = int(request.query_params.get("limit", "50"))
        offset = int(request.query_params.get("offset", "0"))
        if offset > MAX_SQL_INTEGER:
            raise ValueError("offset out of range")
        return PageRequest(limit=limit, offset=offset)
    except ValueError:
        raise ApiError(400, "BAD_PAGE", f"limit must be 1..{MAX_PAGE_SIZE}, offset >= 0"
                       ) from None
