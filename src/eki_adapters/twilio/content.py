"""Twilio's template catalogue: the Content API's ``GET /v1/ContentAndApprovals`` (every
page), each item with its WhatsApp approval status."""

from __future__ import annotations

import logging
from typing import Any

import httpx2

from eki_adapters.http_client import provider_client
from eki_adapters.template_catalog import fetch_pages, text
from eki_domain.errors import InvalidInput
from eki_domain.model.templates import MessageTemplate, TemplateStatus

logger = logging.getLogger("eki.templates.twilio")

DEFAULT_CONTENT_API_URL = "https://content.twilio.com/v1"


class TwilioContentCatalog:
    source = "twilio"

    def __init__(self, account_sid: str, auth_token: str, *,
                 api_url: str = DEFAULT_CONTENT_API_URL,
                 client: httpx2.AsyncClient | None = None, timeout: float = 15.0,
                 page_size: int = 50) -> None:
        self._url = f"{api_url.rstrip('/')}/ContentAndApprovals?PageSize={page_size}"
        self._auth = httpx2.BasicAuth(account_sid, auth_token)
        self._client = client
        self._timeout = timeout

    def __repr__(self) -> str:  # never show the token
        return f"TwilioContentCatalog(url={self._url!r})"

    async def fetch(self) -> list[MessageTemplate]:
        client = self._client or provider_client(self._timeout)
        try:
            pages = await fetch_pages(client, self._url, provider="Twilio", next_url=_next,
                                      request_timeout=self._timeout, logger=logger, auth=self._auth)
        finally:
            if self._client is None:
                await client.aclose()
        templates = []
        for page in pages:
            contents = page.get("contents")
            for item in contents if isinstance(contents, list) else []:
                template = _template(item)
                if template is not None:
                    templates.append(template)
        return templates


def _next(page: dict[str, Any]) -> str | None:
    meta = page.get("meta")
    return text(meta.get("next_page_url")) if isinstance(meta, dict) else None


def _body(types: object) -> str:
    """The text of the item: ``twilio/text`` first, else any type's ``body``."""
    if not isinstance(types, dict):
        return ""
    ordered = [types.get("twilio/text"), *types.values()]
    for value in ordered:
        if isinstance(value, dict) and isinstance(value.get("body"), str):
            return str(value["body"])
    return ""


def _template(item: object) -> MessageTemplate | None:
    if not isinstance(item, dict):
        return None
    approval = item.get("approval_requests")
    approval = approval if isinstance(approval, dict) else {}
    name = str(approval.get("name") or item.get("friendly_name") or "")
    try:
        return MessageTemplate.create(
            name, str(item.get("language", "")),
            str(approval.get("category") or "utility"), _body(item.get("types")),
            status=TemplateStatus.from_provider(approval.get("status") or "unsubmitted"),
            source="twilio", content_sid=str(item.get("sid", "")))
    except InvalidInput as exc:
        logger.warning("content %r skipped: %s", name[:60], exc.code)
        return None
