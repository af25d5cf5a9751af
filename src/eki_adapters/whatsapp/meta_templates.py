"""Meta's template catalogue: ``GET /{waba-id}/message_templates`` (every page)."""

from __future__ import annotations

import logging
from typing import Any

import httpx2

from eki_adapters.http_client import provider_client
from eki_adapters.template_catalog import fetch_pages, text
from eki_domain.errors import InvalidInput
from eki_domain.model.templates import MessageTemplate, TemplateStatus

logger = logging.getLogger("eki.templates.meta")

FIELDS = "name,status,category,language,components"


class MetaTemplateCatalog:
    """The templates of a WhatsApp Business Account (``EKI_WHATSAPP_BUSINESS_ACCOUNT_ID``)."""

    source = "meta"

    def __init__(self, api_url: str, business_account_id: str, access_token: str, *,
                 client: httpx2.AsyncClient | None = None, timeout: float = 15.0,
                 page_size: int = 100) -> None:
        self._url = (f"{api_url.rstrip('/')}/{business_account_id}/message_templates"
                     f"?fields={FIELDS}&limit={page_size}")
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._client = client
        self._timeout = timeout

    def __repr__(self) -> str:  # never show the token
        return f"MetaTemplateCatalog(url={self._url!r})"

    async def fetch(self) -> list[MessageTemplate]:
        client = self._client or provider_client(self._timeout)
        try:
            pages = await fetch_pages(client, self._url, provider="WhatsApp",
                                      next_url=_next, request_timeout=self._timeout, logger=logger,
                                      headers=self._headers)
        finally:
            if self._client is None:
                await client.aclose()
        templates = []
        for page in pages:
            data = page.get("data")
            for item in data if isinstance(data, list) else []:
                template = _template(item)
                if template is not None:
                    templates.append(template)
        return templates


def _next(page: dict[str, Any]) -> str | None:
    paging = page.get("paging")
    return text(paging.get("next")) if isinstance(paging, dict) else None


def _template(item: object) -> MessageTemplate | None:
    """One listed template; one EKI cannot send as text (no body, bad name) is skipped."""
    if not isinstance(item, dict):
        return None
    components = item.get("components")
    body = next((c.get("text") for c in components if isinstance(c, dict)
                 and str(c.get("type", "")).upper() == "BODY")
                if isinstance(components, list) else iter(()), None)
    try:
        return MessageTemplate.create(
            str(item.get("name", "")), str(item.get("language", "")),
            str(item.get("category", "")), body if isinstance(body, str) else "",
            status=TemplateStatus.from_provider(item.get("status")), source="meta")
    except InvalidInput as exc:
        logger.warning("template %r skipped: %s", str(item.get("name", ""))[:60], exc.code)
        return None
