"""EKI's domain: students, phones and the use cases around them, with no I/O.

Everything a school system may reuse is importable from here::

    from eki_domain import PhoneNumber, RegistrationService
"""

from __future__ import annotations

from eki_domain.errors import (
    DuplicatePhone,
    EkiError,
    InvalidInput,
    InvalidPhoneNumber,
    InvalidStudentName,
    InvalidTag,
    StudentNotFound,
)
from eki_domain.model import (
    Page,
    PageRequest,
    PhoneKind,
    PhoneNumber,
    PhoneWarning,
    Student,
    normalize_name,
    normalize_tag,
    normalize_tags,
    phone_candidates,
)
from eki_domain.model.imports import (
    FailedRow,
    ImportFileError,
    ImportInProgress,
    ImportMode,
    ImportReport,
    ImportStatus,
    RowIssue,
    Severity,
    Sheet,
    sheet_from_records,
)
from eki_domain.ports import (
    Clock,
    ImportRecord,
    ImportRepository,
    RosterRepository,
    SpreadsheetReader,
    StudentRepository,
    UnitOfWork,
    UnitOfWorkFactory,
)
from eki_domain.services import ImportResult, RegistrationService, StudentImportService

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "DuplicatePhone",
    "EkiError",
    "FailedRow",
    "ImportFileError",
    "ImportInProgress",
    "ImportMode",
    "ImportRecord",
    "ImportReport",
    "ImportRepository",
    "ImportResult",
    "ImportStatus",
    "InvalidInput",
    "InvalidPhoneNumber",
    "InvalidStudentName",
    "InvalidTag",
    "Page",
    "PageRequest",
    "PhoneKind",
    "PhoneNumber",
    "PhoneWarning",
    "RegistrationService",
    "RosterRepository",
    "RowIssue",
    "Severity",
    "Sheet",
    "SpreadsheetReader",
    "Student",
    "StudentImportService",
    "StudentNotFound",
    "StudentRepository",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "__version__",
    "normalize_name",
    "normalize_tag",
    "normalize_tags",
    "phone_candidates",
    "sheet_from_records",
]
