"""The old import path of :mod:`eki_domain.services.student_import` (kept for callers)."""

from __future__ import annotations

from eki_domain.services.student_import import ImportResult, StudentImportService

__all__ = ["ImportResult", "StudentImportService"]
