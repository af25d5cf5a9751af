"""Use cases: one module per capability. The names below are imported when first used
(PEP 562), like :mod:`eki_domain`'s."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eki_domain.services.imports import ImportResult
    from eki_domain.services.registration import RegistrationService
    from eki_domain.services.student_import import StudentImportService

_WHERE = {
    "ImportResult": "eki_domain.services.imports",
    "RegistrationService": "eki_domain.services.registration",
    "StudentImportService": "eki_domain.services.student_import",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = ["ImportResult", "RegistrationService", "StudentImportService"]
