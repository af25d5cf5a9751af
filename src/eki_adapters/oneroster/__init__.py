"""IMS OneRoster 1.1 CSV packages (a .zip or a folder) → a domain
:class:`~eki_domain.services.oneroster_import.OneRosterPackage`: EKI's student, enrolment
and grade sheets plus the problems found. See docs/oneroster.md."""

from __future__ import annotations

from pathlib import Path

from eki_adapters.oneroster.files import MAX_CSV_BYTES, read_files
from eki_adapters.oneroster.mapping import build_package
from eki_domain.services.oneroster_import import OneRosterPackage

__all__ = ["MAX_CSV_BYTES", "read_oneroster"]


def read_oneroster(path: Path) -> OneRosterPackage:
    """Read and map the package at ``path`` (CPU- and disk-bound: call it in a thread from
    async code). Raises :class:`~eki_domain.model.imports.ImportFileError` (Spanish message)
    when the zip, the folder or one of its CSV files cannot be read as a whole."""
    return build_package(read_files(Path(path)))
