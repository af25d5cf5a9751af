"""The messaging channel port (Meta Cloud API, Twilio, the console…)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import attrs


@attrs.frozen
class SendReceipt:
    """The channel accepted the message and gave it this id (Meta ``wamid``…)."""

    provider_id: str


class MessageChannel(Protocol):
    """Sends text and templates to a WhatsApp user. Implementations own their retries for transient
    failures and raise :class:`eki_domain.errors.DeliveryError` when they give up."""

    @property
    def name(self) -> str: ...

    @property
    def max_body_chars(self) -> int:
        """The longest body one message may have (WhatsApp: 4096; Twilio: 1600). Longer
        answers are split into parts of at most this many characters."""
        ...

    async def send_text(
        self,
        to: str,
        body: str,
        *,
        reply_to: str | None = None,
        idempotency_key: str | None = None,
    ) -> SendReceipt:
        """Send ``body`` to ``to`` (the wa_id exactly as received); ``reply_to`` quotes
        an earlier message; ``idempotency_key`` identifies the outbox row."""
        ...

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
        """Send the approved template ``name`` in ``language`` with its numbered parameters
        (``params[0]`` fills ``{{1}}``…), allowed outside the 24-hour window. Twilio needs the
        template's ``content_sid`` (``HX…``); Meta sends by name. Same retries and errors as
        :meth:`send_text`."""
        ...

    async def mark_read(self, provider_id: str) -> None:
        """Mark an inbound message as read (blue ticks). Best effort."""
        ...

    async def aclose(self) -> None:
        """Release what the channel holds (its HTTP client); nothing to do is fine."""
        ...
