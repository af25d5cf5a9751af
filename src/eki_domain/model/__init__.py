"""Domain model: value objects and entities (attrs), no I/O. The names below are imported
when first used (PEP 562), like :mod:`eki_domain`'s."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eki_domain.model.pagination import Page, PageRequest
    from eki_domain.model.phone import PhoneKind, PhoneNumber, PhoneWarning, phone_candidates
    from eki_domain.model.student import Student, normalize_name, normalize_tag, normalize_tags

_EXPORTS: dict[str, tuple[str, ...]] = {
    "eki_domain.model.pagination": ("Page", "PageRequest"),
    "eki_domain.model.phone": ("PhoneKind", "PhoneNumber", "PhoneWarning", "phone_candidates"),
    "eki_domain.model.student": ("Student", "normalize_name", "normalize_tag", "normalize_tags"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "Page",
    "PageRequest",
    "PhoneKind",
    "PhoneNumber",
    "PhoneWarning",
    "Student",
    "normalize_name",
    "normalize_tag",
    "normalize_tags",
    "phone_candidates",
]
