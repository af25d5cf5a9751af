"""``GET /metrics``: Prometheus text exposition (``EKI_METRICS_TOKEN`` or the admin token)."""

from __future__ import annotations

import asyncio
import logging

from starlette.requests import Request
from starlette.responses import Response

from eki_adapters.prometheus.telemetry import CONTENT_TYPE
from eki_domain.services.operations import OperationsSnapshot
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.web.auth import require_metrics
from eki_entrypoints.web.errors import ApiError

log = logging.getLogger("eki.metrics")


async def metrics(request: Request) -> Response:
    require_metrics(request)
    eki: Eki = request.app.state.eki
    exposition = eki.metrics
    if exposition is None:
        raise ApiError(404, "METRICS_NOT_COLLECTED",
                       "this app was built with a telemetry that exposes no metrics")
    snapshot: OperationsSnapshot | None
    try:
        snapshot = await eki.operations.snapshot(students=True)
    except Exception as exc:  # the scrape still answers: eki_database_up 0
        log.warning("metrics: pipeline state not read (%s)", type(exc).__name__)
        snapshot = None
    body = await asyncio.to_thread(exposition.render, snapshot)
    return Response(body, media_type=CONTENT_TYPE)
