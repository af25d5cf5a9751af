"""Use cases: one module per capability."""

from __future__ import annotations

from eki_domain.services.imports import ImportResult
from eki_domain.services.registration import RegistrationService
from eki_domain.services.student_import import StudentImportService

__all__ = ["ImportResult", "RegistrationService", "StudentImportService"]
