"""The one place of the web app where who-may-do-what is checked.

Every ``/admin`` and ``/api`` route declares its :class:`~eki_domain.model.permissions.Action`
(or that it is public: sign-in, setup links, static files, health, webhooks, metrics with
its own token) with :func:`declare`; the permission-matrix test walks ``app.routes`` and
fails for a route without a rule. The decision itself is the domain's
(:func:`~eki_domain.model.permissions.decide`): this module only finds the principal (an
admin session, the shared token, a personal ``eki_pat_…`` token), asks, and sets
``request.state.principal``.
"""

from __future__ import annotations

import functools
import hmac
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route

from eki_domain.model.permissions import Action, Principal, require, student_scope
from eki_domain.model.student import Student
from eki_domain.services.staff import TOKEN_PREFIX, Caller
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Settings
from eki_entrypoints.web.errors import ApiError
from eki_entrypoints.web.ratelimit import RateLimiter, too_many_requests_error

security_log = logging.getLogger("eki.security")

#: A route anyone may call (it checks its own secret, or has none to check).
PUBLIC = "public"
#: A route any signed-in person may open whatever their role (sign out, own account).
SIGNED_IN = "signed_in"
Rule = Action | str
#: Mounted apps with no handler of ours to carry a rule.
PUBLIC_MOUNTS = frozenset({"/admin/static"})

Endpoint = Callable[[Request], Awaitable[Response]]
_ATTRIBUTE = "eki_access_rule"


def declare(rule: Rule) -> Callable[[Any], Any]:
    """Attach the route's rule to its endpoint (nothing else)."""
    if not isinstance(rule, Action) and rule not in (PUBLIC, SIGNED_IN):
        raise ValueError(f"unknown access rule {rule!r}")

    def mark(endpoint: Any) -> Any:
        setattr(endpoint, _ATTRIBUTE, rule)
        return endpoint

    return mark


def rule_of(route: BaseRoute) -> Rule | None:
    """The declared rule of a route (None: undeclared, which the matrix test refuses)."""
    if isinstance(route, Mount):
        return PUBLIC if route.path in PUBLIC_MOUNTS else None
    if isinstance(route, Route):
        found = getattr(route.endpoint, _ATTRIBUTE, None)
        return found if isinstance(found, Action | str) else None
    return None


def principal_of(request: Request) -> Principal:
    found = getattr(request.state, "principal", None)
    if not isinstance(found, Principal):  # pragma: no cover - a route without its gate
        raise RuntimeError("no principal: the route is not behind its access gate")
    return found


def caller(request: Request) -> Caller:
    """The principal with the client's address and user agent (for the audit log)."""
    return Caller(principal_of(request), client_ip(request),
                  request.headers.get("user-agent"))


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def scope(request: Request) -> frozenset[str] | None:
    """The any-of-tags filter of the principal's listings (None: every student)."""
    return student_scope(principal_of(request))


def require_student(request: Request, action: Action, student: Student,
                    reference: str | None = None) -> None:
    """A student-scoped action: a teacher outside the student's tags gets 404."""
    require(principal_of(request), action, student.tags,
            reference=reference or (student.phone.e164 if student.phone else "ese dato"))


async def audit(request: Request, action: str, *, target_type: str | None = None,
                target_id: str | None = None, **details: str | int | bool | None) -> None:
    eki: Eki = request.app.state.eki
    await eki.audit.record(caller(request), action, target_type=target_type,
                           target_id=target_id, **details)


# -- /api: bearer tokens ------------------------------------------------------------------


async def bearer_principal(request: Request) -> Principal:
    """``Authorization: Bearer $EKI_ADMIN_TOKEN`` → ``system``; ``Bearer eki_pat_…`` → its
    owner. Wrong tokens count per client address (``EKI_RATE_LIMIT_AUTH_FAILURES`` a
    minute); past that every bearer request from the address gets 429."""
    settings: Settings = request.app.state.settings
    scheme, _, raw = request.headers.get("authorization", "").partition(" ")
    token = raw.strip() if scheme.lower() == "bearer" else ""
    personal = token.startswith(TOKEN_PREFIX)
    if settings.admin_token is None and not personal:
        raise ApiError(
            403, "ADMIN_API_DISABLED",
            "the admin API is disabled: set EKI_ADMIN_TOKEN on the server or use a personal "
            "token (eki staff token create)")
    limiter: RateLimiter = request.app.state.auth_failures
    client = client_ip(request) or "unknown"
    wait = limiter.blocked(client)
    if wait is not None:
        raise too_many_requests_error(wait)
    principal: Principal | None = None
    if personal:
        eki: Eki = request.app.state.eki
        principal = await eki.staff.principal_for_token(token)
    elif settings.admin_token is not None and token and hmac.compare_digest(
            token.encode(), settings.admin_token.get().encode()):
        principal = Principal.system()
    if principal is not None:
        return principal
    wait = limiter.hit(client)
    if wait is not None:
        security_log.warning("too many wrong bearer tokens from %s on %s", client,
                             request.url.path)
        raise too_many_requests_error(wait)
    raise ApiError(401, "UNAUTHORIZED",
                   "missing or wrong token: send 'Authorization: Bearer <EKI_ADMIN_TOKEN>' "
                   "or a personal token",
                   headers={"WWW-Authenticate": 'Bearer realm="eki"'})


def api(action: Action) -> Callable[[Endpoint], Endpoint]:
    """Gate of an ``/api`` route: a valid bearer token whose principal may do ``action``
    (403 otherwise; student-scoped routes then call :func:`require_student`)."""

    def decorate(inner: Endpoint) -> Endpoint:
        @functools.wraps(inner)
        async def endpoint(request: Request) -> Response:
            principal = await bearer_principal(request)
            request.state.principal = principal
            require(principal, action)
            return await inner(request)

        declare(action)(endpoint)
        return endpoint

    return decorate


def undeclared(routes: Iterable[BaseRoute], prefixes: tuple[str, ...] = ("/admin", "/api")
               ) -> list[str]:
    """Paths under ``prefixes`` with no rule (the matrix test asserts this is empty)."""
    return [getattr(route, "path", "?") for route in routes
            if getattr(route, "path", "").startswith(prefixes) and rule_of(route) is None]
