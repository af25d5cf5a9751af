"""Domain model: value objects and entities (attrs), no I/O."""

from __future__ import annotations

from eki_domain.model.pagination import Page, PageRequest
from eki_domain.model.phone import PhoneKind, PhoneNumber, PhoneWarning, phone_candidates
from eki_domain.model.student import Student, normalize_name, normalize_tag, normalize_tags

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
