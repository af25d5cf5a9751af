"""``/webhooks/twilio`` and ``/webhooks/twilio/status``: Twilio's signed form posts.

Cap the body, validate ``X-Twilio-Signature`` against the public URL (``EKI_PUBLIC_URL``
behind a proxy) and the form fields, then store the raw event, the message or status in
one transaction (the same inbox and outbox as Meta) and answer an empty TwiML document at
once — replies go through the outbox, never in the TwiML.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from eki_adapters.twilio import parse_twilio_webhook, verify_twilio_signature
from eki_entrypoints.bootstrap import Eki
from eki_entrypoints.settings import Settings
from eki_entrypoints.web.errors import ApiError
from eki_entrypoints.web.limits import read_body
from eki_entrypoints.web.webhooks import client_host, counted, store_delivery

security_log = logging.getLogger("eki.security")

MAX_TWILIO_WEBHOOK_BYTES = 256 * 1024
MAX_FIELDS = 500
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
FORM_TYPE = "application/x-www-form-urlencoded"


def signed_url(request: Request, public_url: str | None) -> str:
    """The URL Twilio signed: ``EKI_PUBLIC_URL`` + path + query when set (behind a proxy
    the URL the server sees differs), else the URL of the request as received."""
    if public_url is None:
        return str(request.url)
    query = request.url.query
    return public_url.rstrip("/") + request.url.path + (f"?{query}" if query else "")


@counted
async def receive(request: Request) -> Response:
    """Incoming WhatsApp messages (also accepts status callbacks sent here)."""
    return await _receive(request)


@counted
async def receive_status(request: Request) -> Response:
    """Status callbacks (``StatusCallback`` of each message EKI sends)."""
    return await _receive(request)


async def _receive(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    eki: Eki = request.app.state.eki
    if settings.channel != "twilio":
        security_log.warning("Twilio webhook POST refused: EKI_CHANNEL is %s",
                             settings.channel)
        raise ApiError(503, "CHANNEL_INACTIVE",
                       f"EKI_CHANNEL is {settings.channel}; set EKI_CHANNEL=twilio to accept "
                       "Twilio webhooks")
    token = settings.twilio_auth_token
    if token is None:
        security_log.error("Twilio webhook POST refused: EKI_TWILIO_AUTH_TOKEN is not set, "
                           "so signatures cannot be checked")
        raise ApiError(503, "WEBHOOK_NOT_CONFIGURED",
                       "set EKI_TWILIO_AUTH_TOKEN to accept Twilio webhooks")
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise ApiError(415, "UNSUPPORTED_MEDIA_TYPE", f"Twilio webhooks are {FORM_TYPE}")
    body = await read_body(request, MAX_TWILIO_WEBHOOK_BYTES)
    try:
        text = body.decode("utf-8")
        params = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "INVALID_FORM", "the body is not a UTF-8 form") from None
    header = request.headers.get("x-twilio-signature")
    if not header:
        security_log.warning("Twilio webhook POST without X-Twilio-Signature from %s "
                             "(%d bytes)", client_host(request), len(body))
        raise ApiError(401, "SIGNATURE_MISSING", "X-Twilio-Signature header required")
    url = signed_url(request, settings.public_url)
    if not verify_twilio_signature(url, params, header, token.get()):
        security_log.warning(
            "Twilio webhook POST with a bad signature from %s (%d bytes) for %s%s",
            client_host(request), len(body), url,
            "" if settings.public_url else
            " (behind a proxy? set EKI_PUBLIC_URL to the URL configured in Twilio)")
        raise ApiError(403, "SIGNATURE_INVALID", "signature does not match the request")
    await store_delivery(request, channel="twilio", body=text,
                         parsed=parse_twilio_webhook(params, now=eki.clock.now()))
    return Response(EMPTY_TWIML, media_type="text/xml")

