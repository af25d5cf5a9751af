"""Reading a provider's template list page by page (what Meta's and Twilio's catalogues
share): one GET per page, the next page's URL from the answer, bounded, never leaving the
provider's own host (the credentials go with every request)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx2

from eki_domain.model.templates import TemplateSyncError

#: More pages than this is a provider bug or a loop: stop with an error.
MAX_PAGES = 200


async def fetch_pages(client: httpx2.AsyncClient, first_url: str, *, provider: str,
                      next_url: Callable[[dict[str, Any]], str | None],
                      request_timeout: float, logger: logging.Logger,
                      **request: Any) -> list[dict[str, Any]]:
    """Every page's JSON object, following ``next_url`` until it gives None."""
    origin = urlsplit(first_url)[:2]
    pages: list[dict[str, Any]] = []
    url: str | None = first_url
    while url is not None:
        if len(pages) >= MAX_PAGES:
            raise TemplateSyncError(f"{provider} devolvió más de {MAX_PAGES} páginas de "
                                    "plantillas; no se sincronizó nada.")
        if urlsplit(url)[:2] != origin:
            raise TemplateSyncError(f"{provider} indicó una página siguiente en otro servidor "
                                    f"({urlsplit(url).netloc}); no se sincronizó nada.")
        try:
            response = await client.get(url, timeout=request_timeout, **request)
        except httpx2.HTTPError as exc:
            raise TemplateSyncError(f"No fue posible comunicarse con {provider} "
                                    f"({type(exc).__name__}); intente de nuevo.") from exc
        if not response.is_success:
            logger.warning("template list from %s: HTTP %d", provider, response.status_code)
            raise TemplateSyncError(
                f"{provider} no entregó la lista de plantillas (HTTP {response.status_code}"
                f"{_detail(response)}). Revise las credenciales y el identificador de la "
                "cuenta.")
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise TemplateSyncError(f"{provider} respondió algo que no es una lista de "
                                    "plantillas; no se sincronizó nada.")
        pages.append(data)
        url = next_url(data)
    return pages


def _detail(response: httpx2.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    message = error.get("message") if isinstance(error, dict) else data.get("message")
    return f": {str(message)[:200]}" if isinstance(message, str) and message else ""


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
