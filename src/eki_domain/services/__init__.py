"""Use cases: one module per capability. The names below are imported when first used
(PEP 562), like :mod:`eki_domain`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from eki_domain.lazy import lazy_exports

if TYPE_CHECKING:
    from eki_domain.services.imports import ImportResult
    from eki_domain.services.registration import RegistrationService
    from eki_domain.services.student_import import StudentImportService

_EXPORTS: dict[str, tuple[str, ...]] = {
    "eki_domain.services.imports": ("ImportResult",),
    "eki_domain.services.registration": ("RegistrationService",),
    "eki_domain.services.student_import": ("StudentImportService",),
}


_WHERE, __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


__all__ = ["ImportResult", "RegistrationService", "StudentImportService"]
