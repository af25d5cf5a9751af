"""Per-client-IP rate limits (``/api``, the admin sign-in), answered with 429.

:class:`RateLimiter` counts hits per key in fixed windows; :class:`RateLimitMiddleware`
applies :class:`RateLimitRule`\\ s to requests by path and method. The client address is
the connection's, or the original one when a trusted proxy forwarded the request
(``ProxyHeadersMiddleware`` runs first). Counts are per process (with N web processes a
client may make up to N × the limit) unless ``EKI_REDIS_URL`` shares them: the limiters
take their counters from the application's ``Eki.counters`` on the first request.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import attrs
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from eki_domain.ports.limits import WindowCounter, WindowCounters
from eki_domain.services.windows import FixedWindowCounter
from eki_entrypoints.web.errors import ApiError


class RateLimiter:
    """At most ``limit`` hits per key in each ``window`` seconds (0: no limit), counted by
    a :class:`~eki_domain.ports.limits.WindowCounter` (in process unless one is given or
    :meth:`share` binds the application's counters).

    :meth:`check` counts with that counter (the middleware); :meth:`hit` and :meth:`blocked`
    are synchronous and count in this process only (the bearer-token failure limiter)."""

    def __init__(self, limit: int, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic,
                 counter: WindowCounter | None = None) -> None:
        if limit < 0 or window <= 0:
            raise ValueError("limit must be >= 0 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._local = FixedWindowCounter(window)
        self.counter: WindowCounter = counter or self._local
        self._shared = counter is not None  # an explicit counter is never replaced

    def share(self, counters: WindowCounters, name: str) -> None:
        """Count :meth:`check` with ``counters(name, window)`` from now on (the
        application's, shared by processes when ``EKI_REDIS_URL`` is set). Idempotent."""
        if not self._shared:
            self.counter = counters(name, self.window)
            self._shared = True

    async def check(self, key: str) -> float | None:
        """Count one hit with the (possibly shared) counter; None if allowed, else seconds
        until the window ends."""
        if self.limit == 0:
            return None
        count, left = await self.counter.add(key, 1, self._clock())
        return None if count <= self.limit else left

    def hit(self, key: str) -> float | None:
        """Count one hit in this process; None if allowed, else seconds until the window
        ends."""
        if self.limit == 0:
            return None
        count, left = self._local.count(key, 1, self._clock())
        return None if count <= self.limit else left

    def blocked(self, key: str) -> float | None:
        """Without counting (this process's hits): None if ``key`` is under the limit, else
        seconds to wait."""
        if self.limit == 0:
            return None
        count, left = self._local.look(key, self._clock())
        return None if count <= self.limit else left


@attrs.frozen
class RateLimitRule:
    """Requests whose path starts with ``prefix`` (or equals ``path``), of ``methods``
    (None: any), share ``limiter``; ``name`` labels the metric."""

    name: str
    limiter: RateLimiter
    prefix: str | None = None
    path: str | None = None
    methods: frozenset[str] | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        if self.path is not None:
            return path.rstrip("/") == self.path.rstrip("/")
        return self.prefix is not None and (path == self.prefix
                                            or path.startswith(self.prefix.rstrip("/") + "/"))


def _rate_limited_message(seconds: int) -> str:
    return (f"Demasiadas solicitudes desde su dirección. Espere {seconds} segundos e intente "
            "de nuevo.")


def too_many_requests(retry_after: float) -> JSONResponse:
    seconds = max(1, math.ceil(retry_after))
    return JSONResponse(
        {"error": {"code": "RATE_LIMITED", "message": _rate_limited_message(seconds)}},
        status_code=429, headers={"Retry-After": str(seconds)})


def too_many_requests_error(retry_after: float) -> ApiError:
    """The same refusal, raised from a handler."""
    seconds = max(1, math.ceil(retry_after))
    return ApiError(429, "RATE_LIMITED", _rate_limited_message(seconds),
                    headers={"Retry-After": str(seconds)})


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, rules: Sequence[RateLimitRule] = ()) -> None:
        self.app = app
        self.rules = tuple(r for r in rules if r.limiter.limit > 0)
        self._shared = False

    def _share(self, scope: Scope) -> None:
        """Count with the application's counters (``Eki.counters``; the lifespan sets
        ``state.eki`` before any request is served)."""
        counters = getattr(getattr(scope["app"].state, "eki", None), "counters", None)
        if counters is not None:
            for rule in self.rules:
                rule.limiter.share(counters, f"rate:{rule.name}")
            self._shared = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.rules:
            if not self._shared:
                self._share(scope)
            client = scope.get("client")
            key = client[0] if client else "unknown"
            for rule in self.rules:
                if not rule.matches(scope["method"], scope["path"]):
                    continue
                retry_after = await rule.limiter.check(key)
                if retry_after is not None:
                    _report(scope, rule.name)
                    await too_many_requests(retry_after)(scope, receive, send)
                    return
        await self.app(scope, receive, send)


def _report(scope: Scope, rule: str) -> None:
    # The app's lifespan sets ``state.eki`` before any request is served.
    scope["app"].state.eki.telemetry.request_rate_limited(rule)
