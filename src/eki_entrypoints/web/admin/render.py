"""Jinja2 templates for the admin site: the environment, Spanish formatting filters, and
``page()`` which renders a template into a response."""

from __future__ import annotations

import functools
from datetime import date, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).with_name("templates")


def when(moment: datetime | None) -> str:
    """``28/11/2026 14:05 UTC`` (times are shown in UTC, like the logs)."""
    return "—" if moment is None else moment.strftime("%d/%m/%Y %H:%M UTC")


def day(value: date | None) -> str:
    return "—" if value is None else value.strftime("%d/%m/%Y")


def number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}".replace(",", ".")


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def dollars(value: float | None) -> str:
    if value is None:
        return "—"
    return f"US$ {value:.4f}" if value < 1 else f"US$ {value:,.2f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 60:
        return f"{value:.1f} s".replace(".", ",")
    if value < 3600:
        return f"{value / 60:.1f} min".replace(".", ",")
    return f"{value / 3600:.1f} h".replace(".", ",")


#: Spanish names of delivery, inbox, import and model-error states (CSS keeps the codes).
LABELS = {
    "queued": "en cola", "sending": "enviando", "sent": "enviado", "delivered": "entregado",
    "read": "leído", "failed": "fallido", "pending": "pendiente", "processing": "en proceso",
    "done": "atendido", "rate_limited": "límite de uso", "quota": "sin saldo",
    "timeout": "tiempo agotado", "network": "error de red", "server": "error del servidor",
    "bad_request": "petición inválida", "auth": "credenciales", "invalid_response":
    "respuesta inválida",
}


def label(code: str | None) -> str:
    return "—" if code is None else LABELS.get(code, code)


def decimal(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}".replace(".", ",")


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:g}".replace(".", ",")


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, day=day, number=number, percent=percent, dollars=dollars,
                       seconds=seconds, score=score, label=label,
                       decimal=decimal)
    return env


def page(request: Request, template: str, context: dict[str, Any] | None = None, *,
         status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    values: dict[str, Any] = {"request": request, "path": request.url.path, "csrf": None,
                              "session": None, "nav": None}
    values.update(context or {})
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response
