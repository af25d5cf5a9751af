"""How EKI writes numbers, dates, names and "today" for a Colombian school (es-CO), and in English.

One helper per concept, used by the rule-based responder, the LLM assistant and the progress
service alike:

* :func:`format_decimal`, :func:`format_percent`: the decimal comma ("4,3", "93,5%"); with
  ``english=True`` the decimal point ("4.3", "93.5%").
* :func:`spanish_date` ("lunes 2 de marzo") and :func:`english_date` ("Monday, March 2").
* :data:`COLOMBIA_UTC_OFFSET` and :func:`local_date`: the school's time zone (UTC-5 all year,
  no daylight saving time) and the date it is there at a given instant.
* :func:`display_first_name`: the student's first name as a person would write it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

from eki_domain.model.student import Student

__all__ = [
    "COLOMBIA_UTC_OFFSET",
    "display_first_name",
    "english_date",
    "format_decimal",
    "format_percent",
    "local_date",
    "spanish_date",
]

#: Colombia has no daylight saving time: UTC-5 all year.
COLOMBIA_UTC_OFFSET: Final = timedelta(hours=-5)

_WEEKDAYS: Final = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
_MONTHS: Final = (
    "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
    "octubre", "noviembre", "diciembre",
)  # fmt: skip
_EN_WEEKDAYS: Final = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)  # fmt: skip
_EN_MONTHS: Final = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def local_date(now: datetime, utc_offset: timedelta = COLOMBIA_UTC_OFFSET) -> date:
    """The calendar date at the school at instant ``now`` (an aware UTC datetime)."""
    return (now + utc_offset).date()


def format_decimal(
    value: float | int | str | Decimal, places: int = 1, *, english: bool = False
) -> str:
    """``4.25`` → ``"4,3"`` (half up, decimal comma); ``3`` → ``"3,0"``; English: ``"4.3"``."""
    number = Decimal(str(value).replace(",", "."))
    quantum = Decimal(1).scaleb(-places)
    text = f"{number.quantize(quantum, rounding=ROUND_HALF_UP):f}"
    return text if english else text.replace(".", ",")


def format_percent(rate: float | int | Decimal, *, english: bool = False) -> str:
    """``0.94`` or ``94`` → ``"94%"``; ``0.935`` → ``"93,5%"`` (English: ``"93.5%"``)."""
    value = Decimal(str(rate))
    if value <= 1:
        value *= 100
    rounded = value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if rounded == rounded.to_integral_value():
        return f"{int(rounded)}%"
    return f"{format_decimal(rounded, english=english)}%"


def spanish_date(day: date, *, year: bool = False) -> str:
    """``date(2026, 3, 2)`` → ``"lunes 2 de marzo"``; with ``year``: ``"2 de marzo de 2026"``."""
    if year:
        return f"{day.day} de {_MONTHS[day.month - 1]} de {day.year}"
    return f"{_WEEKDAYS[day.weekday()]} {day.day} de {_MONTHS[day.month - 1]}"


def english_date(day: date, *, year: bool = False) -> str:
    """``date(2026, 3, 2)`` → ``"Monday, March 2"``; with ``year``: ``"March 2, 2026"``."""
    if year:
        return f"{_EN_MONTHS[day.month - 1]} {day.day}, {day.year}"
    return f"{_EN_WEEKDAYS[day.weekday()]}, {_EN_MONTHS[day.month - 1]} {day.day}"


def display_first_name(student: Student, *, fallback: str, limit: int) -> str:
    """The first name only, as a person would write it (never the phone or the id).

    "ANA" and "ana" become "Ana"; WhatsApp formatting characters and line breaks become
    spaces; at most ``limit`` characters (a longer name is cut with "…"); ``fallback`` when
    nothing is left.
    """
    name = student.first_name
    if name.isupper() or name.islower():
        name = name.capitalize()
    cleaned = " ".join(name.translate(str.maketrans("*_~`\n\r", "      ")).split())
    if not cleaned:
        return fallback
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
