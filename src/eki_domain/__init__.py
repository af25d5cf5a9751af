"""EKI's domain: students, phones and the use cases around them, with no I/O.

Everything a school system may reuse is importable from here (``__all__`` is the stable,
typed public API; see docs/library.md)::

    from eki_domain import PhoneNumber, RegistrationService

Ports are ``typing.Protocol`` classes: implement them without inheriting. Each name's module
is imported when the name is first used (:func:`__getattr__`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from eki_domain.lazy import lazy_exports

if TYPE_CHECKING:
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
    from eki_domain.model.gradebook import ProgressKind
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
    from eki_domain.model.messages import IncomingMessage, MessageType
    from eki_domain.model.phone import mask_phone
    from eki_domain.model.progress import GradingScale, ProgressReport
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
    from eki_domain.ports.assistant import Assistant, StudentToolbox
    from eki_domain.ports.channel import MessageChannel, SendReceipt
    from eki_domain.ports.llm import (
        ChatMessage,
        LanguageModel,
        ModelError,
        ModelErrorKind,
        ModelReply,
        ModelUsage,
        ToolCall,
        ToolSpec,
    )
    from eki_domain.services import ImportResult, RegistrationService, StudentImportService
    from eki_domain.services.conversation import ConversationService, TurnResult
    from eki_domain.services.delivery import DeliveryService
    from eki_domain.services.ingest import IngestService
    from eki_domain.services.llm_assistant import LLMAssistant
    from eki_domain.services.progress import ProgressService, report_to_dict
    from eki_domain.services.progress_import import ProgressImportService
    from eki_domain.services.responder import RuleBasedAssistant
    from eki_domain.services.tools import StudentTools

_EXPORTS: dict[str, tuple[str, ...]] = {
    "eki_domain.errors": (
        "DuplicatePhone", "EkiError", "InvalidInput", "InvalidPhoneNumber", "InvalidStudentName",
        "InvalidTag", "StudentNotFound",
    ),
    "eki_domain.model": (
        "Page", "PageRequest", "PhoneKind", "PhoneNumber", "PhoneWarning", "Student",
        "normalize_name", "normalize_tag", "normalize_tags", "phone_candidates",
    ),
    "eki_domain.model.gradebook": ("ProgressKind",),
    "eki_domain.model.imports": (
        "FailedRow", "ImportFileError", "ImportInProgress", "ImportMode", "ImportReport",
        "ImportStatus", "RowIssue", "Severity", "Sheet", "sheet_from_records",
    ),
    "eki_domain.model.messages": ("IncomingMessage", "MessageType"),
    "eki_domain.model.phone": ("mask_phone",),
    "eki_domain.model.progress": ("GradingScale", "ProgressReport"),
    "eki_domain.ports": (
        "Clock", "ImportRecord", "ImportRepository", "RosterRepository", "SpreadsheetReader",
        "StudentRepository", "UnitOfWork", "UnitOfWorkFactory",
    ),
    "eki_domain.ports.assistant": ("Assistant", "StudentToolbox"),
    "eki_domain.ports.channel": ("MessageChannel", "SendReceipt"),
    "eki_domain.ports.llm": (
        "ChatMessage", "LanguageModel", "ModelError", "ModelErrorKind", "ModelReply", "ModelUsage",
        "ToolCall", "ToolSpec",
    ),
    "eki_domain.services": ("ImportResult", "RegistrationService", "StudentImportService"),
    "eki_domain.services.conversation": ("ConversationService", "TurnResult"),
    "eki_domain.services.delivery": ("DeliveryService",),
    "eki_domain.services.ingest": ("IngestService",),
    "eki_domain.services.llm_assistant": ("LLMAssistant",),
    "eki_domain.services.progress": ("ProgressService", "report_to_dict"),
    "eki_domain.services.progress_import": ("ProgressImportService",),
    "eki_domain.services.responder": ("RuleBasedAssistant",),
    "eki_domain.services.tools": ("StudentTools",),
}


_WHERE, __getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)


#: The package version; pyproject.toml reads it from here (single source).
__version__ = "0.1.0"

__all__ = [
    "Assistant",
    "ChatMessage",
    "Clock",
    "ConversationService",
    "DeliveryService",
    "DuplicatePhone",
    "EkiError",
    "FailedRow",
    "GradingScale",
    "ImportFileError",
    "ImportInProgress",
    "ImportMode",
    "ImportRecord",
    "ImportReport",
    "ImportRepository",
    "ImportResult",
    "ImportStatus",
    "IncomingMessage",
    "IngestService",
    "InvalidInput",
    "InvalidPhoneNumber",
    "InvalidStudentName",
    "InvalidTag",
    "LLMAssistant",
    "LanguageModel",
    "MessageChannel",
    "MessageType",
    "ModelError",
    "ModelErrorKind",
    "ModelReply",
    "ModelUsage",
    "Page",
    "PageRequest",
    "PhoneKind",
    "PhoneNumber",
    "PhoneWarning",
    "ProgressImportService",
    "ProgressKind",
    "ProgressReport",
    "ProgressService",
    "RegistrationService",
    "RosterRepository",
    "RowIssue",
    "RuleBasedAssistant",
    "SendReceipt",
    "Severity",
    "Sheet",
    "SpreadsheetReader",
    "Student",
    "StudentImportService",
    "StudentNotFound",
    "StudentRepository",
    "StudentToolbox",
    "StudentTools",
    "ToolCall",
    "ToolSpec",
    "TurnResult",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "__version__",
    "mask_phone",
    "normalize_name",
    "normalize_tag",
    "normalize_tags",
    "phone_candidates",
    "report_to_dict",
    "sheet_from_records",
]
