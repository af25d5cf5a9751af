"""Twilio's Programmable Messaging API (WhatsApp) as a
:class:`~eki_domain.ports.channel.MessageChannel`.

``POST {api}/Accounts/{AccountSid}/Messages.json`` (form-encoded, HTTP basic auth) with
``From``, ``To=whatsapp:+…``, ``Body`` and ``StatusCallback``; the answer's ``sid`` is
the provider id that later status callbacks refer to.

Retries (tenacity) only what can succeed later: network errors and timeouts, HTTP 5xx,
HTTP 429 and Twilio's rate-limit codes (20429, 63018). Everything else (63016 outside the
24 h window, 63003/63024 undeliverable, bad credentials, any other 4xx) is raised at once
as a permanent :class:`~eki_domain.errors.DeliveryError`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from eki_adapters.http_channel import HttpChannel
from eki_adapters.http_client import ProviderHttp, ProviderResponse
from eki_adapters.http_retry import header_retry_after
from eki_adapters.twilio.address import whatsapp_address
from eki_adapters.twilio.errors import HINTS, PERMANENT_CODES, TRANSIENT_CODES, parse_code
from eki_domain.errors import DeliveryError
from eki_domain.ports.channel import SendReceipt

logger = logging.getLogger("eki.channel.twilio")

DEFAULT_API_URL = "https://api.twilio.com/2010-04-01"
#: Twilio refuses a ``Body`` longer than this (error 21617), WhatsApp or not.
MAX_BODY_CHARS = 1600


class TwilioChannel(HttpChannel):
    """Sends WhatsApp text and template messages through Twilio.

    ``status_callback`` is the public URL of EKI's ``/webhooks/twilio/status`` route
    (None: Twilio reports no statuses for these messages). Pass ``client`` to share an
    ``httpx2.AsyncClient`` (then the caller closes it); otherwise the channel creates one
    and :meth:`aclose` closes it. Twilio has no read receipts for incoming messages:
    :meth:`mark_read` does nothing, and quoting (``reply_to``) is not supported.
    """

    name = "twilio"
    provider = "Twilio"
    max_body_chars = MAX_BODY_CHARS

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_: str,
        *,
        api_url: str = DEFAULT_API_URL,
        status_callback: str | None = None,
        client: ProviderHttp | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        if not account_sid or not auth_token or not from_:
            raise ValueError("account_sid, auth_token and from_ are required")
        super().__init__(
            f"{api_url.rstrip('/')}/Accounts/{account_sid}/Messages.json", client=client,
            timeout=timeout, max_attempts=max_attempts, backoff_initial=backoff_initial,
            backoff_max=backoff_max, logger=logger)
        self._auth = (account_sid, auth_token)  # HTTP Basic
        self._from = whatsapp_address(from_)
        self._status_callback = status_callback

    def __repr__(self) -> str:  # never show the token
        return f"TwilioChannel(url={self._messages_url!r}, from={self._from!r})"

    def message_form(self, to: str, body: str) -> dict[str, str]:
        """The form fields of one send (what Twilio's Messages API expects)."""
        form = {"From": self._from, "To": whatsapp_address(to), "Body": body}
        if self._status_callback:
            form["StatusCallback"] = self._status_callback
        return form

    async def send_text(
        self,
        to: str,
        body: str,
        *,
        reply_to: str | None = None,
        idempotency_key: str | None = None,
    ) -> SendReceipt:
        if not body.strip() or len(body) > MAX_BODY_CHARS:
            raise DeliveryError(
                f"El mensaje debe tener entre 1 y {MAX_BODY_CHARS} caracteres "
                f"(tiene {len(body)}).",
                code="INVALID_BODY",
                permanent=True,
            )
        return await self._deliver(to, len(body), self.message_form(to, body))

    def template_form(self, to: str, content_sid: str, params: Sequence[str]) -> dict[str, str]:
        """The form fields of a template send: the Content SID and its variables as a JSON
        object string (``{"1": "Ana"}``)."""
        form = {"From": self._from, "To": whatsapp_address(to), "ContentSid": content_sid}
        if params:
            form["ContentVariables"] = json.dumps(
                {str(i): str(p) for i, p in enumerate(params, start=1)}, ensure_ascii=False)
        if self._status_callback:
            form["StatusCallback"] = self._status_callback
        return form

    async def send_template(
        self,
        to: str,
        name: str,
        language: str,
        params: Sequence[str],
        *,
        content_sid: str | None = None,
        idempotency_key: str | None = None,
    ) -> SendReceipt:
        """Send an approved Content API template (Twilio needs its ``content_sid``)."""
        if not content_sid:
            raise DeliveryError(
                f"La plantilla «{name}» ({language}) no tiene Content SID de Twilio: "
                "sincronícela con `eki templates sync`.",
                code="TEMPLATE_NO_SID",
                permanent=True,
            )
        return await self._deliver(to, sum(len(str(p)) for p in params),
                                   self.template_form(to, content_sid, params))

    async def mark_read(self, provider_id: str) -> None:
        """Twilio's Messages API has no read receipts: nothing to do."""

    # -- internals ------------------------------------------------------------------

    async def _post_message(self, payload: Any) -> str:
        response = await self._post(data=payload, auth=self._auth)
        if not response.is_success:
            raise error_from_response(response)
        return self._accepted(_sid(response), "el id (sid)")


def _json(response: ProviderResponse) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _sid(response: ProviderResponse) -> str | None:
    sid = _json(response).get("sid")
    return sid if isinstance(sid, str) and sid else None


def error_from_response(response: ProviderResponse) -> DeliveryError:
    """A failed Messages API call as a DeliveryError (permanent unless worth retrying)."""
    status = response.status_code
    data = _json(response)
    twilio_code = parse_code(data.get("code"))
    title = data.get("message") if isinstance(data.get("message"), str) else None
    if twilio_code in PERMANENT_CODES:
        permanent = True
    elif twilio_code in TRANSIENT_CODES:
        permanent = False
    else:
        permanent = not (status == 429 or status >= 500)
    code = str(twilio_code) if twilio_code is not None else f"HTTP_{status}"
    hint = HINTS.get(twilio_code) if twilio_code is not None else None
    message = f"Twilio no aceptó el mensaje (HTTP {status}, código {code})"
    if hint:
        message += f": {hint}"
    if title:
        message += f". Detalle: {title}"
    return DeliveryError(
        message + ".",
        code=code,
        permanent=permanent,
        title=title,
        retry_after=header_retry_after(response.headers.get("Retry-After")),
    )

