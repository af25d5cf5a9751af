"""Defensive readers for the tools' JSON results: the responder never trusts a shape.

Extra keys are ignored, missing ones are tolerated, wrong types read as "absent". The shapes
are those :mod:`eki_domain.services.tools` returns (and :mod:`.responder` documents).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from eki_domain.services.progress import match_course

__all__ = [
    "as_list",
    "bullets",
    "count",
    "dicts",
    "narrow",
    "number",
    "read_date",
    "text",
]

#: Replies stay well under WhatsApp's 4,096 characters (and under 1,000 in practice).
LIST_BUDGET: Final = 700
MAX_NAME: Final = 60


def number(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal | str):
        try:
            parsed = Decimal(str(value).strip().replace(",", "."))
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def count(value: object) -> int | None:
    parsed = number(value)
    if parsed is None or parsed < 0:
        return None
    return int(parsed)


def text(value: object) -> str | None:
    """A tool string fit for a WhatsApp line: one line, no formatting characters, short."""
    if not isinstance(value, str):
        return None
    cleaned = " ".join(value.translate(str.maketrans("*_~`", "    ")).split())
    if not cleaned:
        return None
    return cleaned if len(cleaned) <= MAX_NAME else cleaned[: MAX_NAME - 1] + "…"


def dicts(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list | tuple):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def read_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def bullets(lines: Sequence[str], more: Any) -> list[str]:
    """As many lines as fit the budget, then ``more(n)`` ("…y N más")."""
    shown: list[str] = []
    used = 0
    for line in lines:
        if shown and used + len(line) > LIST_BUDGET:
            shown.append(more(len(lines) - len(shown)))
            break
        shown.append(line)
        used += len(line) + 1
    return shown


def narrow(items: list[Mapping[str, Any]], hint: str | None) -> list[Mapping[str, Any]]:
    """The items of the course ``hint`` means (one course matcher: :func:`match_course`).

    Items whose ``course`` is the matched name; every item when the hint matches none (or
    there is nothing to narrow).
    """
    if not hint or len(items) < 2:
        return items
    names = list(dict.fromkeys(str(item.get("course") or "") for item in items))
    matched = match_course(hint, names)
    if matched is None:
        return items
    return [item for item in items if str(item.get("course") or "") == matched]
