"""What the HTTP channels (Meta Cloud API, Twilio) share: their HTTP client, retries, one
logged send, the POST that turns a network failure into a transient ``DeliveryError``, and
closing. Each channel adds its request body, its error mapping and its provider id."""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx2

from eki_adapters.http_client import ProviderHttp, ProviderResponse, channel_client
from eki_adapters.http_retry import DeliveryRetry
from eki_domain.errors import DeliveryError
from eki_domain.model.messages import MAX_MESSAGE_CHARS
from eki_domain.model.phone import mask_phone
from eki_domain.ports.channel import SendReceipt


class HttpChannel:
    """Base of :class:`~eki_adapters.whatsapp.MetaCloudChannel` and
    :class:`~eki_adapters.twilio.TwilioChannel`.

    Pass ``client`` to share an ``httpx2.AsyncClient`` or any
    :class:`~eki_adapters.http_client.ProviderHttp` (then the caller closes it); otherwise
    the channel creates one (:func:`~eki_adapters.http_client.channel_client`) and
    :meth:`aclose` closes it.
    """

    #: The provider as school staff read it in delivery errors ("WhatsApp", "Twilio").
    provider: ClassVar[str]
    #: The longest body one message may have (the port's ``max_body_chars``).
    max_body_chars: int = MAX_MESSAGE_CHARS

    def __init__(self, messages_url: str, *, client: ProviderHttp | None,
                 timeout: float, max_attempts: int, backoff_initial: float,
                 backoff_max: float, logger: logging.Logger) -> None:
        self._messages_url = messages_url
        self._timeout = timeout
        self._logger = logger
        self._retry = DeliveryRetry(max_attempts=max_attempts, backoff_initial=backoff_initial,
                                    backoff_max=backoff_max, logger=logger)
        self._owns_client = client is None
        self._client: ProviderHttp = client if client is not None else channel_client(timeout)

    async def _post_message(self, payload: Any) -> str:
        """Send ``payload`` once; the provider's id of the message."""
        raise NotImplementedError

    async def _deliver(self, to: str, length: int, payload: Any) -> SendReceipt:
        """:meth:`_post_message` with retries, logged with the masked recipient only."""
        masked = mask_phone(to)
        try:
            provider_id: str = await self._retry.retrying(masked)(self._post_message, payload)
        except DeliveryError as exc:
            self._logger.warning("send of %d chars to %s failed: code=%s permanent=%s",
                                 length, masked, exc.code, exc.permanent)
            raise
        self._logger.info("sent %d chars to %s as %s", length, masked, provider_id)
        return SendReceipt(provider_id=provider_id)

    async def _post(self, **request: Any) -> ProviderResponse:
        """POST to the messages endpoint; a network failure is a transient DeliveryError."""
        try:
            return await self._client.post(self._messages_url, timeout=self._timeout,
                                           **request)
        except httpx2.TransportError as exc:
            raise DeliveryError(
                f"No fue posible comunicarse con {self.provider} ({type(exc).__name__}).",
                code="NETWORK",
                permanent=False,
            ) from exc

    def _accepted(self, provider_id: str | None, id_name: str = "el id") -> str:
        """The id of an accepted message; without one, a permanent error (the provider took
        the message: retrying could send it twice)."""
        if provider_id is None:
            raise DeliveryError(
                f"{self.provider} aceptó el mensaje pero su respuesta no trae {id_name} del "
                "mensaje.",
                code="BAD_RESPONSE",
                permanent=True,
            )
        return provider_id

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
