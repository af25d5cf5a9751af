"""``/webhooks/whatsapp``: Meta's verification handshake and signed deliveries.

POST: cap the body (3 MiB), verify ``X-Hub-Signature-256`` over the raw bytes, then
store the raw event, one inbox row per message and every status in one transaction,
and answer 200 — the assistant runs later, in the worker.
"""

from __future__ import annotations

import functools
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from eki_adapters.whatsapp import parse_meta_webhook, verify_meta_signature
from eki_domain.services.ingest import IngestResult
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Settings
from eki_entrypoints.web.errors import ApiError
from eki_entrypoints.web.limits import read_body

log = logging.getLogger("eki.webhook")
security_log = logging.getLogger("eki.security")

MAX_WEBHOOK_BYTES = 3 * 1024 * 1024


class ParsedWebhook(Protocol):
    """What a provider's parser gives back (Meta's and Twilio's have this shape)."""

    @property
    def messages(self) -> Any: ...
    @property
    def statuses(self) -> Any: ...
    @property
    def ignored(self) -> Any: ...


async def verify(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    params = request.query_params
    expected = settings.whatsapp_verify_token
    token = params.get("hub.verify_token", "")
    if (
        expected is None
        or params.get("hub.mode") != "subscribe"
        or not hmac.compare_digest(token.encode(), expected.get().encode())
    ):
        security_log.warning("webhook verification refused (mode=%r)", params.get("hub.mode"))
        return PlainTextResponse("Forbidden", status_code=403)
    return PlainTextResponse(params.get("hub.challenge", ""))


def counted(handler: Callable[[Request], Awaitable[Response]]
            ) -> Callable[[Request], Awaitable[Response]]:
    """Count every delivery of a provider webhook by outcome (``/metrics``)."""

    @functools.wraps(handler)
    async def receive(request: Request) -> Response:
        telemetry = request.app.state.eki.telemetry
        try:
            response = await handler(request)
        except ApiError as exc:
            telemetry.webhook_request(exc.code.lower())
            raise
        except Exception:
            telemetry.webhook_request("error")
            raise
        telemetry.webhook_request("accepted")
        return response

    return receive


async def store_delivery(request: Request, *, channel: str, body: str,
                         parsed: ParsedWebhook) -> IngestResult:
    """Store a verified delivery (raw event, messages, statuses) in one transaction (the
    ingest service then publishes ``MessageReceived``, which wakes the worker)."""
    eki: Eki = request.app.state.eki
    result = await eki.ingest.ingest(
        channel=channel,
        body=body,
        messages=parsed.messages,
        statuses=parsed.statuses,
        note="; ".join(parsed.ignored)[:2000] or None,
    )
    log.info("%s webhook event %s: %d message(s) (%d new), %d status(es)", channel,
             result.event_id, result.messages, result.new_messages, result.statuses)
    return result


@counted
async def receive(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    eki: Eki = request.app.state.eki
    if settings.channel != "meta":
        security_log.warning("Meta webhook POST refused: EKI_CHANNEL is %s", settings.channel)
        raise ApiError(503, "CHANNEL_INACTIVE",
                       f"EKI_CHANNEL is {settings.channel}; set EKI_CHANNEL=meta to accept "
                       "Meta webhooks")
    secret = settings.whatsapp_app_secret
    if secret is None:
        security_log.error("webhook POST refused: EKI_WHATSAPP_APP_SECRET is not set, so "
                           "signatures cannot be checked (Meta will retry)")
        raise ApiError(503, "WEBHOOK_NOT_CONFIGURED",
                       "set EKI_WHATSAPP_APP_SECRET to accept webhook deliveries")
    body = await read_body(request, MAX_WEBHOOK_BYTES)
    header = request.headers.get("x-hub-signature-256")
    if not header:
        security_log.warning("webhook POST without X-Hub-Signature-256 from %s (%d bytes)",
                             client_host(request), len(body))
        await eki.ingest.record_rejected(
            channel="meta", reason=f"sin firma X-Hub-Signature-256; {len(body)} bytes; "
            f"desde {client_host(request)}")
        raise ApiError(401, "SIGNATURE_MISSING", "X-Hub-Signature-256 header required")
    if not verify_meta_signature(body, header, secret.get()):
        security_log.warning("webhook POST with a bad signature from %s (%d bytes)",
                             client_host(request), len(body))
        await eki.ingest.record_rejected(
            channel="meta", reason=f"firma inválida (no coincide con el cuerpo); "
            f"{len(body)} bytes; desde {client_host(request)}")
        raise ApiError(403, "SIGNATURE_INVALID", "signature does not match the body")
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "INVALID_JSON", "the body is not JSON") from None
    await store_delivery(request, channel="meta", body=body.decode("utf-8", errors="replace"),
                         parsed=parse_meta_webhook(payload))
    return PlainTextResponse("OK")


def client_host(request: Request) -> str:
    return request.client.host if request.client else "unknown"
