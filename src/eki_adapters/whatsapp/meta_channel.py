"""The Meta WhatsApp Cloud API as a :class:`~eki_domain.ports.channel.MessageChannel`.

Retries (tenacity) only what can succeed later: network errors and timeouts, HTTP 5xx,
HTTP 429 and Meta's rate-limit codes 130429 / 131056. Everything else (outside the 24 h
window, undeliverable, bad parameter, expired token, template errors, any other 4xx) is
raised at once as a permanent :class:`~eki_domain.errors.DeliveryError`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx2

from eki_adapters.http_channel import HttpChannel
from eki_adapters.http_client import ProviderHttp, ProviderResponse
from eki_adapters.http_retry import header_retry_after
from eki_domain.errors import DeliveryError
from eki_domain.model.messages import MAX_MESSAGE_CHARS
from eki_domain.ports.channel import SendReceipt

logger = logging.getLogger("eki.channel.meta")

#: Meta error codes worth retrying (throughput, pair rate limit).
TRANSIENT_CODES = frozenset({130429, 131056})
#: Meta error codes that never succeed on retry, whatever the HTTP status.
PERMANENT_CODES = frozenset({100, 190, 131009, 131026, 131047, 132000, 132001})

_HINTS: Mapping[int, str] = {
    131047: "han pasado más de 24 horas desde el último mensaje del estudiante; "
            "solo se puede escribir con una plantilla aprobada",
    131026: "el número no puede recibir el mensaje (no tiene WhatsApp o no aceptó "
            "las condiciones)",
    130429: "se superó el límite de mensajes por segundo del número",
    131056: "demasiados mensajes seguidos al mismo destinatario",
    190: "el token de acceso de WhatsApp venció o no es válido; genere uno nuevo",
    100: "WhatsApp rechazó un parámetro de la solicitud",
    131009: "WhatsApp rechazó un parámetro de la solicitud",
    132000: "los parámetros no coinciden con la plantilla",
    132001: "la plantilla no existe o no está aprobada en ese idioma",
}


def text_message_body(
    to: str,
    body: str,
    *,
    reply_to: str | None = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """The JSON the Cloud API expects for a free-form text message."""
    message: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"preview_url": False, "body": body},
    }
    if reply_to is not None:
        message["context"] = {"message_id": reply_to}
    if idempotency_key is not None:
        message["biz_opaque_callback_data"] = idempotency_key
    return message


def template_message_body(
    to: str,
    name: str,
    language: str,
    params: Sequence[str],
    *,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """The JSON the Cloud API expects for a template message: the body's numbered
    parameters, in order, as ``components[0].parameters``."""
    template: dict[str, Any] = {"name": name, "language": {"code": language}}
    if params:
        template["components"] = [{
            "type": "body",
            "parameters": [{"type": "text", "text": str(p)} for p in params],
        }]
    message: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "template",
        "template": template,
    }
    if idempotency_key is not None:
        message["biz_opaque_callback_data"] = idempotency_key
    return message


class MetaCloudChannel(HttpChannel):
    """Sends WhatsApp text and template messages through the Graph API
    ``/{phone-number-id}/messages``.

    Pass ``client`` to share an ``httpx2.AsyncClient`` (then the caller closes it);
    otherwise the channel creates one and :meth:`aclose` closes it.
    """

    name = "meta"
    provider = "WhatsApp"

    def __init__(
        self,
        api_url: str,
        phone_number_id: str,
        access_token: str,
        *,
        client: ProviderHttp | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        super().__init__(
            f"{api_url.rstrip('/')}/{phone_number_id}/messages", client=client,
            timeout=timeout, max_attempts=max_attempts, backoff_initial=backoff_initial,
            backoff_max=backoff_max, logger=logger)
        self._headers = {"Authorization": f"Bearer {access_token}"}

    def __repr__(self) -> str:  # never show the token
        return f"MetaCloudChannel(url={self._messages_url!r})"

    async def send_text(
        self,
        to: str,
        body: str,
        *,
        reply_to: str | None = None,
        idempotency_key: str | None = None,
    ) -> SendReceipt:
        if not body.strip() or len(body) > MAX_MESSAGE_CHARS:
            raise DeliveryError(
                f"El mensaje debe tener entre 1 y {MAX_MESSAGE_CHARS} caracteres "
                f"(tiene {len(body)}).",
                code="INVALID_BODY",
                permanent=True,
            )
        message = text_message_body(to, body, reply_to=reply_to, idempotency_key=idempotency_key)
        return await self._deliver(to, len(body), message)

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
        """Send an approved template by name (``content_sid`` is Twilio's; ignored here)."""
        message = template_message_body(to, name, language, params,
                                        idempotency_key=idempotency_key)
        return await self._deliver(to, sum(len(str(p)) for p in params), message)

    async def mark_read(self, provider_id: str) -> None:
        """Blue ticks for an inbound message: one attempt, failures logged and swallowed."""
        message = {"messaging_product": "whatsapp", "status": "read", "message_id": provider_id}
        try:
            response = await self._client.post(
                self._messages_url, json=message, headers=self._headers, timeout=self._timeout
            )
        except httpx2.HTTPError as exc:
            logger.warning("mark_read %s failed: %s", provider_id, type(exc).__name__)
            return
        if not response.is_success:
            error = _error_from_response(response)
            logger.warning("mark_read %s failed: HTTP %d code=%s",
                           provider_id, response.status_code, error.code)

    # -- internals ------------------------------------------------------------------

    async def _post_message(self, payload: Any) -> str:
        response = await self._post(json=payload, headers=self._headers)
        if not response.is_success:
            raise _error_from_response(response)
        return self._accepted(_provider_id(response))


def _provider_id(response: ProviderResponse) -> str | None:
    try:
        data = response.json()
        provider_id = data["messages"][0]["id"]
    except (ValueError, LookupError, TypeError):
        return None
    return provider_id if isinstance(provider_id, str) and provider_id else None


def _meta_error(response: ProviderResponse) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, dict) else {}


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _error_from_response(response: ProviderResponse) -> DeliveryError:
    status = response.status_code
    error = _meta_error(response)
    meta_code = _int(error.get("code"))
    title = next((v for k in ("error_user_title", "message")
                  if isinstance(v := error.get(k), str) and v), None)
    error_data = error.get("error_data")
    details = error_data.get("details") if isinstance(error_data, dict) else None
    if meta_code in PERMANENT_CODES:
        permanent = True
    elif meta_code in TRANSIENT_CODES:
        permanent = False
    else:
        permanent = not (status == 429 or status >= 500)
    code = str(meta_code) if meta_code is not None else f"HTTP_{status}"
    hint = _HINTS.get(meta_code) if meta_code is not None else None
    message = f"WhatsApp no aceptó el mensaje (HTTP {status}, código {code})"
    if hint:
        message += f": {hint}"
    extra = [p for p in dict.fromkeys((title, details if isinstance(details, str) else None))
             if p]
    if extra:
        message += ". Detalle: " + " — ".join(extra)
    return DeliveryError(
        message + ".",
        code=code,
        permanent=permanent,
        title=title,
        retry_after=header_retry_after(response.headers.get("Retry-After")),
    )

