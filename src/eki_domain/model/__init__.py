"""Domain model: value objects and entities (attrs), no I/O. The names below are imported
when first used (PEP 562), like :mod:`eki_domain`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eki_domain.lazy import lazy_exports

if TYPE_CHECKING:
    from eki_domain.model.pagination import Page, PageRequest
    from eki_domain.model.phone import PhoneKind, PhoneNumber, PhoneWarning, phone_candidates
    from eki_domain.model.student import Student, normalize_name, normalize_tag, normalize_tags

_EXPORTS: dict[str, tuple[str, ...]] = {
    "eki_domain.model.pagination": ("Page", "PageRequest"),
    "eki_domain.model.phone": ("PhoneKind", "PhoneNumber", "PhoneWarning", "phone_candidates"),
    "eki_domain.model.student": ("Student", "normalize_name", "normalize_tag", "normalize_tags"),
}


_WHERE, __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


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
