"""Bearer-token protection for ``/api``, ``/metrics`` (and ``/admin``)."""

from __future__ import annotations

import hmac

from starlette.requests import Request

from eki_entrypoints.settings import Settings
from eki_entrypoints.web.errors import ApiError


def require_admin(request: Request) -> None:
    """Raise ApiError unless the request carries ``Authorization: Bearer $EKI_ADMIN_TOKEN``.

    With no token configured the admin API is disabled (403), never open.
    """
    settings: Settings = request.app.state.settings
    if settings.admin_token is None:
        raise ApiError(
            403,
            "ADMIN_API_DISABLED",
            "the admin API is disabled: set EKI_ADMIN_TOKEN on the server to enable it",
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = settings.admin_token.get().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise ApiError(
            401,
            "UNAUTHORIZED",
            "missing or wrong token: send 'Authorization: Bearer <EKI_ADMIN_TOKEN>'",
            headers={"WWW-Authenticate": 'Bearer realm="eki"'},
        )


def require_metrics(request: Request) -> None:
    """``GET /metrics`` takes ``Bearer $EKI_METRICS_TOKEN`` or the admin token; with
    neither configured it is disabled (403), never open."""
    settings: Settings = request.app.state.settings
    accepted = [t.get().encode() for t in (settings.metrics_token, settings.admin_token)
                if t is not None]
    if not accepted:
        raise ApiError(
            403,
            "METRICS_DISABLED",
            "metrics are disabled: set EKI_METRICS_TOKEN (or EKI_ADMIN_TOKEN) on the server",
        )
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    given = token.strip().encode()
    matches = [hmac.compare_digest(given, expected) for expected in accepted]
    if scheme.lower() != "bearer" or not any(matches):
        raise ApiError(
            401,
            "UNAUTHORIZED",
            "missing or wrong token: send 'Authorization: Bearer <EKI_METRICS_TOKEN>'",
            headers={"WWW-Authenticate": 'Bearer realm="eki-metrics"'},
        )
