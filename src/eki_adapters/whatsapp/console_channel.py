"""A channel that only logs: run EKI (CLI, demo, tests) without WhatsApp credentials."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from eki_adapters.whatsapp.masking import mask_phone
from eki_domain.model.messages import MAX_MESSAGE_CHARS
from eki_domain.ports.channel import SendReceipt

logger = logging.getLogger("eki.channel.console")


class ConsoleChannel:
    """Records what would be sent; logs a masked summary at INFO and the text at DEBUG."""

    max_body_chars = MAX_MESSAGE_CHARS

    def __init__(self, name: str = "console", *, keep: int = 1000) -> None:
        self.name = name
        self.keep = keep  # a long-running `eki serve` without keys must not grow forever
        self.sent: list[tuple[str, str, str | None]] = []  # (to, body, reply_to)
        self.read: list[str] = []
        #: (to, template name, language, parameters)
        self.templates: list[tuple[str, str, str, tuple[str, ...]]] = []

    async def send_text(
        self,
        to: str,
        body: str,
        *,
        reply_to: str | None = None,
        idempotency_key: str | None = None,
    ) -> SendReceipt:
        self.sent.append((to, body, reply_to))
        if len(self.sent) > self.keep:
            del self.sent[: len(self.sent) - self.keep]
        logger.info("would send %d chars to %s", len(body), mask_phone(to))
        logger.debug("message body for %s: %s", mask_phone(to), body)
        return SendReceipt(provider_id="console-" + uuid.uuid4().hex)

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
        self.templates.append((to, name, language, tuple(str(p) for p in params)))
        if len(self.templates) > self.keep:
            del self.templates[: len(self.templates) - self.keep]
        logger.info("would send template %s (%s, %d parameter(s)) to %s", name, language,
                    len(params), mask_phone(to))
        return SendReceipt(provider_id="console-" + uuid.uuid4().hex)

    async def mark_read(self, provider_id: str) -> None:
        self.read.append(provider_id)
        if len(self.read) > self.keep:
            del self.read[: len(self.read) - self.keep]

    async def aclose(self) -> None:
        """Nothing to close (same shape as the real channels)."""
