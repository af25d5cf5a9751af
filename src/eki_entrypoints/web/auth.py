"""Bearer-token protection for ``/api`` and ``/metrics``.

Each route takes one token: ``/api`` the admin token, ``/metrics`` the metrics token
(never the admin token, so a scraper's credential opens nothing else). Wrong tokens are
counted per client address (``EKI_RATE_LIMIT_AUTH_FAILURES`` a minute): past that, every
bearer request from the address gets 429 until the window ends, right token or not — so a
token cannot be guessed online.
"""

from __future__ import annotations

import hmac
import logging

from starlette.requests import Request

from eki_entrypoints.settings import Secret, Settings
from eki_entrypoints.web.errors import ApiError
from eki_entrypoints.web.ratelimit import RateLimiter, too_many_requests_error

security_log = logging.getLogger("eki.security")

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
    _check_bearer(request, settings.admin_token, "EKI_ADMIN_TOKEN", "eki")


def require_metrics(request: Request) -> None:
    """``GET /metrics`` takes ``Bearer $EKI_METRICS_TOKEN`` only; unset, it is disabled
    (403), never open."""
    settings: Settings = request.app.state.settings
    if settings.metrics_token is None:
        raise ApiError(
            403,
            "METRICS_DISABLED",
            "metrics are disabled: set EKI_METRICS_TOKEN on the server",
        )
    _check_bearer(request, settings.metrics_token, "EKI_METRICS_TOKEN", "eki-metrics")


def auth_failure_limiter(settings: Settings) -> RateLimiter:
    """The failed-attempt counter the app factories keep in ``app.state.auth_failures``."""
    return RateLimiter(settings.rate_limit_auth_failures)


def _check_bearer(request: Request, expected: Secret, variable: str, realm: str) -> None:
    limiter: RateLimiter = request.app.state.auth_failures
    client = request.client.host if request.client else "unknown"
    wait = limiter.blocked(client)
    if wait is not None:
        raise too_many_requests_error(wait)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                          expected.get().encode()):
        return
    wait = limiter.hit(client)
    if wait is not None:
        security_log.warning("too many wrong bearer tokens from %s on %s", client,
                             request.url.path)
        raise too_many_requests_error(wait)
    raise ApiError(
        401,
        "UNAUTHORIZED",
        f"missing or wrong token: send 'Authorization: Bearer <{variable}>'",
        headers={"WWW-Authenticate": f'Bearer realm="{realm}"'},
    )
