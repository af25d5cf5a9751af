"""Jinja2 templates for the admin site: the environment, Spanish formatting filters, and
``page()`` which renders a template into a response."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

TEMPLATES = Path(__file__).with_name("templates")


@jinja2.pass_context
def when(context: Any, moment: datetime | None) -> str:
    """``28/11/2026 09:05`` in the school's time zone (``EKI_TIMEZONE``)."""
    if moment is None:
        return "—"
    zone = context.get("zone")
    return moment.astimezone(zone if isinstance(zone, tzinfo) else UTC).strftime(
        "%d/%m/%Y %H:%M")


@jinja2.pass_context
def clock(context: Any, moment: datetime | None) -> str:
    """``09:05`` (today) or ``28/11 09:05`` in the school's time zone."""
    if moment is None:
        return "—"
    zone = context.get("zone")
    local = moment.astimezone(zone if isinstance(zone, tzinfo) else UTC)
    today = context.get("today")
    return local.strftime("%H:%M" if today == local.date() else "%d/%m %H:%M")


def duration(value: float | None) -> str:
    """``3 min``, ``2 h 05 min``, ``1 d 4 h`` (a waiting time)."""
    if value is None:
        return "—"
    minutes = max(0, int(value // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def minutes(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} min"


def school_zone(request: Request) -> tzinfo:
    settings = getattr(request.app.state, "settings", None)
    name = getattr(settings, "timezone", None)
    try:
        return ZoneInfo(name) if isinstance(name, str) else UTC
    except (ValueError, KeyError):  # pragma: no cover - settings validated the name
        return UTC


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
    env.filters.update(when=when, clock=clock, duration=duration, minutes=minutes, day=day,
                       number=number, percent=percent, dollars=dollars, seconds=seconds,
                       score=score, label=label, decimal=decimal)
    return env


def page(request: Request, template: str, context: dict[str, Any] | None = None, *,
         status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    zone = school_zone(request)
    values: dict[str, Any] = {"request": request, "path": request.url.path, "csrf": None,
                              "session": None, "nav": None, "zone": zone,
                              "zone_name": str(zone),
                              "today": datetime.now(zone).date()}
    values.update(context or {})
    html = environment().get_template(template).render(values)
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response
