"""JSON shapes of domain objects, shared by the HTTP API and ``--json`` CLI output."""

from __future__ import annotations

from typing import Any

from eki_domain.model.pagination import Page
from eki_domain.model.student import Student


def student_to_dict(student: Student) -> dict[str, Any]:
    return {
        "id": student.id,
        "name": student.name,
        "phone": student.phone.e164,
        "wa_id": student.phone.wa_id,
        "region": student.phone.region,
        "phone_kind": str(student.phone.kind),
        "active": student.active,
        "registered_at": student.registered_at.isoformat(),
        "tags": sorted(student.tags),
    }


def student_page_to_dict(page: Page[Student]) -> dict[str, Any]:
    return {
        "items": [student_to_dict(s) for s in page.items],
        "total": page.total,
        "limit": page.limit,
        "offset": page.offset,
        "has_more": page.has_more,
    }
